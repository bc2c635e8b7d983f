"""`clone_model`: a model with another's architecture and new layers (fresh weights), as
Keras' `keras.models.clone_model`."""

from netfleet.errors import InvalidArgumentError, InvalidTypeError, check_positive_int
from netfleet.layers.base import Layer
from netfleet.layers.core import InputLayer
from netfleet.layers.symbolic import flatten, is_symbolic
from netfleet.models.model import Model
from netfleet.models.sequential import Sequential


def clone_layer(layer):
    """A new layer with `layer`'s class and settings and fresh weights: `clone_model`'s
    default `clone_function`."""
    return type(layer).from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, *, seed=None):
    """A model with `model`'s architecture and new, freshly initialised layers.

    The clone is not compiled and has one member. A Sequential or functional model is
    rebuilt layer by layer; a subclassed model is made again by calling its class with the
    arguments it was made with (and built for the same inputs when `model` is built).

    Args:
        model: A `Sequential`, functional or subclassed `Model`.
        input_tensors: Symbolic tensors (from `Input`) to build the clone on: one per input
            of a functional model, one for a Sequential. Defaults to new inputs of the
            model's shapes and names.
        clone_function: Called on each layer of `model` (`InputLayer`s excepted) to give
            the clone's layer; returning the layer itself shares it. Defaults to
            `clone_layer` (a new layer from the layer's config).
        seed: The clone's seed. Defaults to a fresh draw (or, for a subclassed model, the
            seed its arguments give).

    Returns:
        The clone.

    Example:
        >>> import netfleet as nf
        >>> model = nf.Sequential([nf.layers.Dense(3, input_shape=(4,))])
        >>> clone = clone_model(model)
        >>> clone.get_config()["layers"] == model.get_config()["layers"]
        True
        >>> bool((clone.get_weights()[0] == model.get_weights()[0]).all())
        False
    """
    if not isinstance(model, Model):
        raise InvalidTypeError(
            f"The 'model' argument of clone_model must be a netfleet Model. Got "
            f"{type(model).__name__}."
        )
    if seed is not None:
        seed = check_positive_int(seed, "seed", "clone_model", minimum=0)
    if clone_function is None:
        clone_function = clone_layer
    elif not callable(clone_function):
        raise InvalidTypeError(
            "The 'clone_function' argument of clone_model must be a callable taking a layer "
            f"and returning one. Got {clone_function!r}."
        )
    if hasattr(model, "call"):
        return _clone_subclassed(model, input_tensors, clone_function, seed)
    if isinstance(model, Sequential):
        return _clone_sequential(model, input_tensors, clone_function, seed)
    return _clone_functional(model, input_tensors, clone_function, seed)


def _cloned(layer, clone_function):
    clone = clone_function(layer)
    if not isinstance(clone, Layer):
        raise InvalidTypeError(
            f"The clone_function of clone_model must return a layer. For layer "
            f"'{layer.name}' it returned {type(clone).__name__}."
        )
    return clone


def _clone_sequential(model, input_tensors, clone_function, seed):
    clone = Sequential(name=model.name, seed=seed)
    if input_tensors is not None:
        tensors = _symbolic(input_tensors, 1)
        clone.add(tensors[0])
    elif model.input_layer is not None:
        clone.add(InputLayer.from_config(model.input_layer.get_config()))
    for layer in model.layers:
        clone.add(_cloned(layer, clone_function))
    return clone


def _clone_functional(model, input_tensors, clone_function, seed):
    model.require_built("clone_model")
    if input_tensors is not None:
        inputs = _symbolic(input_tensors, len(model.inputs))
    else:
        inputs = [InputLayer.from_config(t.node.layer.get_config()).output for t in model.inputs]
    values = {id(old): new for old, new in zip(model.inputs, inputs)}
    fresh = {}
    for node in model.nodes:
        layer = node.layer
        if id(layer) not in fresh:
            fresh[id(layer)] = _cloned(layer, clone_function)
        args = [values[id(t)] for t in node.inbound]
        values[id(node.outputs[0])] = fresh[id(layer)](args[0] if len(args) == 1 else args)
    outputs = [values[id(t)] for t in model.outputs]
    return Model(inputs, outputs, name=model.name, seed=seed)


def _clone_subclassed(model, input_tensors, clone_function, seed):
    """The class called again with the model's arguments (Keras 3 clones a subclassed
    model from its config: its constructor's arguments)."""
    if input_tensors is not None or clone_function is not clone_layer:
        raise InvalidArgumentError(
            "clone_model takes input_tensors and clone_function for Sequential and functional "
            f"models only; model '{model.name}' is a subclassed model ({type(model).__name__}), "
            "whose layers are made by its own code."
        )
    arguments = getattr(model, "_init_arguments", None)
    if arguments is None:
        raise InvalidArgumentError(
            f"clone_model cannot make model '{model.name}' again: its class "
            f"{type(model).__name__} writes its own __new__, so the arguments it was made "
            "with are unknown. Make a new instance of the class instead."
        )
    args, kwargs = arguments
    clone = type(model)(*args, **kwargs)
    clone.name = model.name
    if seed is not None:
        clone.seed = seed
        clone.member_seeds = [seed] * clone.num_members
    if model.built:
        clone.ensure_built(list(model.input_example_shapes))
    return clone


def _symbolic(input_tensors, count):
    tensors = flatten(input_tensors)
    if len(tensors) != count or not is_symbolic(tensors):
        raise InvalidArgumentError(
            f"The 'input_tensors' argument of clone_model must be {count} symbolic tensor(s) "
            f"(from Input()), one per input of the model. Got {input_tensors!r}."
        )
    return tensors
