"""`clone_model`: the same architecture with new layers (fresh weights), from configs."""

from netfleet import layers as layers_module
from netfleet.layers.core import InputLayer
from netfleet.models.model import Model
from netfleet.models.sequential import Sequential


def clone_layer(layer):
    return type(layer).from_config(layer.get_config())


def clone_model(model, seed=None):
    """A model with `model`'s architecture and new, freshly initialised layers."""
    if isinstance(model, Sequential):
        model.require_built("clone_model")
        clone = Sequential(name=model.name, seed=seed)
        clone.add(layers_module.Input(shape=model.example_shape))
        for layer in model.layers:
            config = layer.get_config()
            config.pop("input_shape", None)
            clone.add(type(layer).from_config(config))
        return clone
    model.require_built("clone_model")
    new = {}
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            new[id(layer)] = InputLayer.from_config(layer.get_config()).output
    values = {id(t): new[id(t.node.layer)] for t in model.inputs}
    fresh = {}
    for node in model.nodes:
        layer = node.layer
        if id(layer) not in fresh:
            fresh[id(layer)] = clone_layer(layer)
        args = [values[id(t)] for t in node.inbound]
        values[id(node.outputs[0])] = fresh[id(layer)](args[0] if len(args) == 1 else args)
    return Model(
        [values[id(t)] for t in model.inputs],
        [values[id(t)] for t in model.outputs],
        name=model.name,
        seed=seed,
    )
