"""Keras 3's model config (the `config.json` of a `.keras` file) translated into netfleet's
(`netfleet.models.config`): a `Sequential` or functional graph of the layers
`keras_layers` translates; data only, known classes only, never code.

Anything that carries code is refused first, wherever it is: a function payload (a
`Lambda`'s code), or an object from a module outside Keras or a custom registration.

Keras saves a layer's weights under `layers/<snake_case class name>[_<n>]/vars/<i>` (the
n-th layer of that class, in the order of the model's layers: a `Sequential`'s without its
`InputLayer`), never under the layer's own name; `Translation.weight_paths` gives that
path for each layer.
"""

import collections

from netfleet.layers import naming
from netfleet.saving import limits
from netfleet.saving.jsontext import brief
from netfleet.saving.keras_layers import (
    check_dtype,
    check_keys,
    error,
    json_object,
    keras_object,
    translate_layer,
)

Translation = collections.namedtuple("Translation", "config weight_paths compile_config")
"""A Keras model config translated: netfleet's model config, `{layer name: its weights'
group in model.weights.h5}`, and Keras' compile config (or None)."""

_CODE_CLASSES = {"__lambda__", "function", "__function__"}
_MODEL_KEYS = {"module", "class_name", "config", "registered_name", "build_config"}
_MODEL_KEYS |= {"compile_config"}
_MODEL_SETTINGS = {"name", "trainable", "dtype", "layers", "build_input_shape"}
_MODEL_SETTINGS |= {"input_layers", "output_layers"}


def translate(document, path):
    """netfleet's model config, weight paths and compile config for the Keras model config
    `document` (the parsed `config.json` of the `.keras` file `path`).

    Raises:
        ModelFileError: the config holds code, names a class or a setting netfleet does not
            load, or is malformed.
    """
    _refuse_code(document, path)
    model = keras_object(document, "model", path)
    check_keys(model, _MODEL_KEYS, "the model", path)
    kind = model["class_name"]
    config = json_object(model.get("config"), "The model's config", path)
    check_keys(config, _MODEL_SETTINGS, "the model's config", path)
    check_dtype(config.get("dtype"), "model", path)
    if config.get("trainable", True) is not True:
        raise error(path, "has a model with trainable=False; netfleet freezes layers only")
    entries = config.get("layers")
    if not isinstance(entries, list) or len(entries) > limits.MAX_LAYERS:
        raise error(path, f"must list at most {limits.MAX_LAYERS} layers")
    name = config.get("name") if isinstance(config.get("name"), str) else "model"
    if kind == "Sequential":
        build = model.get("build_config")
        build_shape = build.get("input_shape") if isinstance(build, dict) else None
        translated, paths = _sequential(name, entries, build_shape, path)
    elif kind == "Functional":
        translated, paths = _functional(name, config, entries, path)
    else:
        raise error(path, f"holds a {brief(kind)} model; netfleet loads Sequential and Functional")
    compile_config = model.get("compile_config") or None
    return Translation(translated, paths, compile_config)


# -- models --------------------------------------------------------------------------------
def _sequential(name, entries, build_shape, path):
    layers = [translate_layer(entry, path) for entry in entries]
    input_layer = None
    if layers and layers[0]["class_name"] == "InputLayer":
        input_layer, layers = layers[0], layers[1:]
    elif layers and isinstance(build_shape, list) and build_shape:
        layers[0]["config"]["input_shape"] = build_shape[1:]
    if any(layer["class_name"] == "InputLayer" for layer in layers):
        raise error(path, "has an InputLayer that is not the first layer of its Sequential")
    config = {"class_name": "Sequential", "name": name, "input_layer": input_layer}
    return {**config, "layers": layers}, _weight_paths(layers)


def _functional(name, config, entries, path):
    layers = [translate_layer(entry, path) for entry in entries]
    names = [layer["config"]["name"] for layer in layers]
    pending = []
    for entry, layer_name in zip(entries, names):
        if entry.get("name", layer_name) != layer_name:
            raise error(path, f"names the layer {brief(layer_name)} twice differently")
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise error(path, f"has malformed inbound_nodes for layer {brief(layer_name)}")
        pending += [(layer_name, index, _inbound(node, path)) for index, node in enumerate(nodes)]
    if len(pending) > limits.MAX_LAYERS:
        raise error(path, f"has more than {limits.MAX_LAYERS} layer calls")
    inputs = _references(config.get("input_layers"), "input_layers", path)
    made = {ref: [ref[0], 0] for ref in inputs}
    nodes = _ordered_nodes(pending, made, path)
    outputs = _references(config.get("output_layers"), "output_layers", path)
    graph = {
        "class_name": "Model",
        "name": name,
        "layers": layers,
        "nodes": nodes,
        "inputs": [made[ref] for ref in inputs],
        "outputs": [_made(made, ref, path) for ref in outputs],
    }
    return graph, _weight_paths(layers)


def _inbound(node, path):
    """The `(layer, node index)` references a Keras node reads: `{"args": [tensor or list
    of tensors], "kwargs": {}}` (keyword arguments only when None, such as `mask=None`)."""
    if not isinstance(node, dict) or set(node) != {"args", "kwargs"}:
        raise error(path, f"has a malformed layer call {brief(node)}")
    args, kwargs = node["args"], node["kwargs"]
    passed = not isinstance(kwargs, dict) or any(value is not None for value in kwargs.values())
    if passed or not isinstance(args, list) or len(args) != 1:
        raise error(path, f"has a layer call with arguments netfleet does not pass: {brief(node)}")
    tensors = args[0] if isinstance(args[0], list) else [args[0]]
    refs = []
    for tensor in tensors:
        tensor = tensor if isinstance(tensor, dict) else {}
        config = tensor.get("config") if isinstance(tensor.get("config"), dict) else {}
        history = config.get("keras_history")
        if tensor.get("class_name") != "__keras_tensor__" or not _is_reference(history):
            raise error(path, f"has a layer call on something other than tensors: {brief(node)}")
        if history[2] != 0:
            raise error(path, f"reads output {history[2]} of layer {brief(history[0])}")
        refs.append((history[0], history[1]))
    return refs


def _ordered_nodes(pending, made, path):
    """netfleet's graph nodes in an order where each reads only tensors made before it (and
    a layer's calls keep their order), with `made` mapping Keras' references to netfleet's."""
    calls, nodes = collections.Counter(), []
    while pending:
        waiting = []
        for layer_name, index, refs in pending:
            ready = all(ref in made for ref in refs)
            if ready and (index == 0 or (layer_name, index - 1) in made):
                nodes.append({"layer": layer_name, "inbound": [made[ref] for ref in refs]})
                made[(layer_name, index)] = [layer_name, calls[layer_name]]
                calls[layer_name] += 1
            else:
                waiting.append((layer_name, index, refs))
        if len(waiting) == len(pending):
            layer_name, _, refs = waiting[0]
            missing = next(ref for ref in refs if ref not in made)
            raise error(
                path,
                f"has layer {brief(layer_name)} read {brief(list(missing))}, which no layer "
                "call of the model makes",
            )
        pending = waiting
    return nodes


def _references(value, key, path):
    """Keras' `[layer, node index, tensor index]` references (one, or a list of them)."""
    refs = [value] if _is_reference(value) else value
    if not isinstance(refs, list) or not refs or not all(_is_reference(r) for r in refs):
        raise error(path, f"has a malformed {key} entry {brief(value)}")
    return [(ref[0], ref[1]) for ref in refs]


def _is_reference(value):
    return (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])
    )


def _made(made, ref, path):
    if ref not in made:
        raise error(path, f"has an output {brief(list(ref))} that no layer call makes")
    return made[ref]


def _weight_paths(layers):
    """`{layer name: "layers/<snake_case class>[_<n>]"}`, Keras' names of their weights."""
    counts, paths = collections.Counter(), {}
    for layer in layers:
        base = naming.snake_case(layer["class_name"])
        suffix = f"_{counts[base]}" if counts[base] else ""
        counts[base] += 1
        paths[layer["config"]["name"]] = f"layers/{base}{suffix}"
    return paths


# -- code is refused ----------------------------------------------------------------------
def _refuse_code(document, path):
    """Walk the whole config (without recursion) and refuse anything that carries code: a
    function payload, or an object from a module outside Keras or a custom registration."""
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        pending.extend(item.values())
        kind, module = item.get("class_name"), item.get("module")
        if kind in _CODE_CLASSES or "__lambda__" in item or kind == "Lambda":
            raise error(
                path,
                f"holds Python code ({brief(kind)}): netfleet never runs code from a file. "
                "Build the model with netfleet's layers (its Lambda takes your function) and "
                "give it Keras' weights with set_weights(keras_model.get_weights())",
            )
        if module is not None and not (
            isinstance(module, str) and (module == "keras" or module.startswith("keras."))
        ):
            raise error(
                path,
                f"names the class {brief(kind)} from the module {brief(module)}: netfleet "
                "loads only Keras' own built-in classes",
            )
        registered = item.get("registered_name")
        if registered is not None and registered != kind:
            raise error(
                path,
                f"names the custom class {brief(registered)}: netfleet loads only Keras' own "
                "built-in classes",
            )
