"""A model's architecture as a JSON-able dict, and back: what `Model.get_config` and
`Model.from_config` use, and what a model file stores.

A model config names layer classes only as strings looked up among the registered built-in
layers (`netfleet.registry`), so building a model from a config never imports or evaluates a
name. A functional model's graph is stored as Keras stores it: for each layer call (node),
the layer's name and the tensors it reads, each written `[layer name, call index]` (the
index counts that layer's calls in the graph, so a layer called twice stays unambiguous).

Example:
    >>> import netfleet as nf
    >>> layer = nf.layers.Dense(2, input_shape=(3,), name="hidden")
    >>> model = nf.Sequential([layer], name="tiny", seed=1)
    >>> config = model_config(model)
    >>> config["class_name"], [layer["class_name"] for layer in config["layers"]]
    ('Sequential', ['Dense'])
    >>> model_from_config(config).layers[0].units == model.layers[0].units
    True
"""

import collections

from netfleet import layers as layers_module
from netfleet import registry
from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.layers.core import InputLayer
from netfleet.saving import limits
from netfleet.saving.config import field as _field
from netfleet.saving.config import require_dict as _require_dict
from netfleet.saving.jsontext import brief

SEQUENTIAL = "Sequential"
FUNCTIONAL = "Model"


def model_config(model):
    """The architecture and members of `model` as a JSON-able dict.

    Args:
        model: A `Sequential` or functional `Model` (not a subclass of either).

    Returns:
        A dict with `class_name` (`"Sequential"` or `"Model"`), `name`, `seed`,
        `member_seeds`, `member_params` and `layers` (`{"class_name", "config"}` each);
        a Sequential adds `input_layer` (None while its input shape is unknown), a functional
        model adds `nodes`, `inputs` and `outputs` (its graph).

    Raises:
        InvalidTypeError: `model` is of a class that cannot be rebuilt from a config.
        InvalidArgumentError: two layers of `model` share a name.
    """
    kind = _kind(model)
    _check_unique_names(model)
    config = {
        "class_name": kind,
        "name": model.name,
        "seed": model.seed,
        "member_seeds": [int(seed) for seed in model.member_seeds],
        "member_params": [dict(params) for params in model.member_params],
    }
    if kind == SEQUENTIAL:
        input_layer = model.input_layer
        config["input_layer"] = None if input_layer is None else _layer_config(input_layer)
    config["layers"] = [_layer_config(layer) for layer in model.layers]
    if kind == FUNCTIONAL:
        config.update(_graph_config(model))
    return config


def model_from_config(config):
    """Rebuild the model `config` describes, with freshly initialised weights.

    Args:
        config: A dict from `model_config`.

    Returns:
        A `Sequential` or `Model` with the same layers, names, seed and members.

    Raises:
        InvalidArgumentError: the config is malformed, names an unknown layer class, has
            entries `model_config` never writes, or declares more layers, layer calls, graph
            depth or members than `netfleet.saving.limits` allows a file.
        InvalidTypeError: a layer's settings do not fit its class.
    """
    _require_dict(config, "The model config")
    kind = _field(config, "class_name", str)
    if kind not in _KEYS:
        raise InvalidArgumentError(
            f"The model config has class_name {brief(kind)}; netfleet rebuilds only "
            f"{SEQUENTIAL!r} and {FUNCTIONAL!r} models."
        )
    _check_config(config, kind)
    if kind == SEQUENTIAL:
        model = _sequential_from_config(config)
    else:
        model = _functional_from_config(config)
    seeds, params = config["member_seeds"], config["member_params"]
    model.set_members(len(seeds), seeds=list(seeds), params=params)
    return model


# -- to a config ---------------------------------------------------------------------------
def _kind(model):
    for kind in (SEQUENTIAL, FUNCTIONAL):
        if type(model) is registry.get("model", kind):
            return kind
    raise InvalidTypeError(
        f"Only Sequential and functional Model instances can be saved with their architecture. "
        f"Got a {type(model).__name__}: save its weights with save_weights() instead."
    )


def _check_unique_names(model):
    counts = collections.Counter(layer.name for layer in model.layers)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise InvalidArgumentError(
            f"Cannot save model '{model.name}': several of its layers are named "
            f"{', '.join(repeated)}. Give each layer its own name (name=...)."
        )


def _layer_config(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _graph_config(model):
    refs = {id(t.node): [t.node.layer.name, 0] for t in model.inputs}
    calls = collections.Counter()
    nodes = []
    for node in model.nodes:
        name = node.layer.name
        nodes.append({"layer": name, "inbound": [refs[id(t.node)] for t in node.inbound]})
        refs[id(node)] = [name, calls[name]]
        calls[name] += 1
    return {
        "nodes": nodes,
        "inputs": [refs[id(t.node)] for t in model.inputs],
        "outputs": [refs[id(t.node)] for t in model.outputs],
    }


# -- checks before anything is built -------------------------------------------------------
_COMMON_KEYS = {"class_name", "name", "seed", "member_seeds", "member_params", "layers"}
_KEYS = {
    SEQUENTIAL: _COMMON_KEYS | {"input_layer"},
    FUNCTIONAL: _COMMON_KEYS | {"nodes", "inputs", "outputs"},
}
_LAYER_ENTRY_KEYS = {"class_name", "config"}
_NODE_KEYS = {"layer", "inbound"}


def _check_config(config, kind):
    """Refuse a config, before any layer is made, that has entries `model_config` never
    writes or declares more layers or members than a file may (`netfleet.saving.limits`): a
    config read from a file names no code and no other file."""
    _check_keys(config, _KEYS[kind], "The model config")
    layers = _field(config, "layers", list)
    _check_count(len(layers), limits.MAX_LAYERS, "layers")
    input_layer = config.get("input_layer")
    names = [_layer_name(entry) for entry in layers]
    if input_layer is not None:
        _layer_name(input_layer)
    counts = collections.Counter(name for name in names if name)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise InvalidArgumentError(f"The model config has two layers named {brief(repeated[0])}.")
    _check_members(config)


def _check_keys(entry, known, what):
    unknown = sorted(set(entry) - known)
    if unknown:
        raise InvalidArgumentError(
            f"{what} has the unexpected entries {', '.join(brief(k) for k in unknown)}; "
            f"netfleet writes and reads only {', '.join(sorted(known))}."
        )


def _check_count(count, limit, what):
    if count > limit:
        raise InvalidArgumentError(
            f"The model config declares {count} {what}; a model file may hold at most {limit}."
        )


def _layer_name(entry):
    """The name in a layer entry `{"class_name": str, "config": {...}}`, checked to be a
    plain string (or absent: the layer then gets a default name)."""
    _require_dict(entry, "A layer entry")
    _check_keys(entry, _LAYER_ENTRY_KEYS, "A layer entry")
    _field(entry, "class_name", str)
    name = _field(entry, "config", dict).get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidTypeError(f"A layer's name must be a string. Got {brief(name)}.")
    return name


def _check_members(config):
    seeds = _field(config, "member_seeds", list)
    params = _field(config, "member_params", list)
    _check_count(len(seeds), limits.MAX_MEMBERS, "members")
    if not seeds or len(seeds) != len(params):
        raise InvalidArgumentError(
            f"The model config needs one seed and one settings dict per member. Got "
            f"{len(seeds)} seeds and {len(params)} settings dicts."
        )
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidTypeError(f"A member seed must be an integer. Got {brief(seed)}.")
    for settings in params:
        _require_dict(settings, "A member's settings")


def _check_graph(config, names):
    """Check, before any layer is called, that the graph's nodes call listed layers (`names`)
    on tensors made before them, and that it is not too deep (building it recurses once per
    call along its longest chain)."""
    nodes = _field(config, "nodes", list)
    _check_count(len(nodes), limits.MAX_LAYERS, "layer calls")
    depths = dict.fromkeys(_refs(config, "inputs"), 0)
    calls = collections.Counter()
    for node in nodes:
        _require_dict(node, "A graph node")
        _check_keys(node, _NODE_KEYS, "A graph node")
        name = _listed(names, _field(node, "layer", str))
        inbound = _refs(node, "inbound")
        if not inbound:
            raise InvalidArgumentError(f"The graph node of layer {brief(name)} reads no tensor.")
        depth = 1 + max(depths[_made(depths, ref)] for ref in inbound)
        if depth > limits.MAX_GRAPH_DEPTH:
            raise InvalidArgumentError(
                f"The model config's graph chains more than {limits.MAX_GRAPH_DEPTH} layer "
                "calls; a model file may hold no deeper graph."
            )
        depths[(name, calls[name])] = depth
        calls[name] += 1


def _made(made, ref):
    if ref not in made:
        raise InvalidArgumentError(
            f"The model config reads the tensor {list(ref)} before any layer call makes it."
        )
    return ref


# -- from a config -------------------------------------------------------------------------
def _sequential_from_config(config):
    model = registry.get("model", SEQUENTIAL)(
        name=_field(config, "name", str), seed=_field(config, "seed", int)
    )
    input_layer = config.get("input_layer")
    if input_layer is not None:
        model.add(_input_layer(input_layer))
    for entry in _field(config, "layers", list):
        model.add(layers_module.deserialize(_require_dict(entry, "A layer entry")))
    return model


def _functional_from_config(config):
    by_name = {}
    for entry in _field(config, "layers", list):
        layer = layers_module.deserialize(_require_dict(entry, "A layer entry"))
        if layer.name in by_name:
            raise InvalidArgumentError(f"The model config has two layers named {layer.name!r}.")
        by_name[layer.name] = layer
    _check_graph(config, by_name)
    tensors = {}
    for name, _ in _refs(config, "inputs"):
        layer = _lookup(by_name, name)
        if not isinstance(layer, InputLayer):
            raise InvalidArgumentError(f"The model input {name!r} is not an InputLayer.")
        tensors[(name, 0)] = layer.output
    calls = collections.Counter()
    for node in _field(config, "nodes", list):
        _require_dict(node, "A graph node")
        name = _field(node, "layer", str)
        args = [_tensor(tensors, ref) for ref in _refs(node, "inbound")]
        tensors[(name, calls[name])] = _lookup(by_name, name)(args[0] if len(args) == 1 else args)
        calls[name] += 1
    return registry.get("model", FUNCTIONAL)(
        [_tensor(tensors, ref) for ref in _refs(config, "inputs")],
        [_tensor(tensors, ref) for ref in _refs(config, "outputs")],
        name=_field(config, "name", str),
        seed=_field(config, "seed", int),
    )


def _input_layer(entry):
    layer = layers_module.deserialize(_require_dict(entry, "The input layer entry"))
    if not isinstance(layer, InputLayer):
        raise InvalidArgumentError(
            f"The input layer entry of the model config is a {type(layer).__name__}."
        )
    return layer


def _refs(config, key):
    refs = _field(config, key, list)
    for ref in refs:
        if not (
            isinstance(ref, list)
            and len(ref) == 2
            and isinstance(ref[0], str)
            and isinstance(ref[1], int)
        ):
            raise InvalidArgumentError(
                f"A tensor in the model config's '{key}' must be [layer name, call index]. "
                f"Got {brief(ref)}."
            )
    return [tuple(ref) for ref in refs]


def _tensor(tensors, ref):
    return tensors[_made(tensors, tuple(ref))]


def _lookup(by_name, name):
    return by_name[_listed(by_name, name)]


def _listed(names, name):
    if name not in names:
        raise InvalidArgumentError(
            f"The model config's graph calls an unlisted layer {brief(name)}."
        )
    return name
