"""Keras 3 layer configs (entries of a `.keras` file's `config.json`) translated into
netfleet's, by a fixed table: data only, known classes only, never code.

Each Keras layer class netfleet loads is a row of `LAYERS`: the netfleet layer of the same
name, and the Keras settings it takes (copied, read as an activation or initializer name,
or checked to be channels-last). Settings of features netfleet lacks (regularizers,
constraints, quantization, ...) are accepted only when off; any other setting or class is
refused with a `ModelFileError` naming the file.
"""

import inspect

from netfleet import registry
from netfleet.errors import ModelFileError
from netfleet.saving.jsontext import brief

_COPY, _ACTIVATION, _INITIALIZER = "copy", "activation", "initializer"
_CHANNELS_LAST = "channels_last"  # checked to be Keras' default layout, then left out
_CONV = {
    **dict.fromkeys(
        ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate"), _COPY
    ),
    "activation": _ACTIVATION,
    "use_bias": _COPY,
    "kernel_initializer": _INITIALIZER,
    "bias_initializer": _INITIALIZER,
}
_POOLING = dict.fromkeys(("pool_size", "strides", "padding", "data_format"), _COPY)
_GLOBAL_POOLING = dict.fromkeys(("data_format", "keepdims"), _COPY)
_NORMALIZATION = {
    **dict.fromkeys(("axis", "epsilon", "center", "scale"), _COPY),
    "beta_initializer": _INITIALIZER,
    "gamma_initializer": _INITIALIZER,
}

LAYERS = {
    "Dense": {
        "units": _COPY,
        "activation": _ACTIVATION,
        "use_bias": _COPY,
        "kernel_initializer": _INITIALIZER,
        "bias_initializer": _INITIALIZER,
    },
    "Activation": {"activation": _ACTIVATION},
    "Dropout": {"rate": _COPY, "seed": _COPY},
    "Flatten": {"data_format": _CHANNELS_LAST},
    "Conv1D": _CONV,
    "Conv2D": _CONV,
    "MaxPooling1D": _POOLING,
    "MaxPooling2D": _POOLING,
    "AveragePooling1D": _POOLING,
    "AveragePooling2D": _POOLING,
    "GlobalAveragePooling1D": _GLOBAL_POOLING,
    "GlobalAveragePooling2D": _GLOBAL_POOLING,
    "GlobalMaxPooling1D": _GLOBAL_POOLING,
    "GlobalMaxPooling2D": _GLOBAL_POOLING,
    "BatchNormalization": {
        **_NORMALIZATION,
        "momentum": _COPY,
        "moving_mean_initializer": _INITIALIZER,
        "moving_variance_initializer": _INITIALIZER,
    },
    "LayerNormalization": _NORMALIZATION,
    "Rescaling": {"scale": _COPY, "offset": _COPY},
    "Reshape": {"target_shape": _COPY},
    "Embedding": {
        "input_dim": _COPY,
        "output_dim": _COPY,
        "embeddings_initializer": _INITIALIZER,
        "mask_zero": _COPY,
    },
    "Concatenate": {"axis": _COPY},
    **{merge: {} for merge in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")},
}
"""Every Keras layer class netfleet loads: `{class: {setting: how netfleet reads it}}`."""

# Keras settings of features netfleet lacks: accepted only with these values ("off").
_OFF = {
    **dict.fromkeys(
        [
            f"{weight}_{kind}"
            for weight in ("kernel", "bias", "beta", "gamma", "embeddings")
            for kind in ("regularizer", "constraint")
        ]
        + ["activity_regularizer", "quantization_config", "lora_rank", "noise_shape"]
        + ["renorm_clipping"]
    ),
    "groups": 1,
    "synchronized": False,
    "renorm": False,
    "rms_scaling": False,
}
_MEANINGLESS_WHEN_OFF = {"renorm_momentum", "lora_alpha"}
_INPUT_DTYPES = {"float16", "float32", "float64", "bfloat16", "int8", "int16", "int32"}
_INPUT_DTYPES |= {"int64", "uint8", "uint16", "uint32", "uint64"}
_LAYER_KEYS = {"module", "class_name", "config", "registered_name", "build_config"}
_LAYER_KEYS |= {"name", "inbound_nodes"}


def translate_layer(entry, path):
    """netfleet's `{"class_name", "config"}` for one Keras layer entry."""
    entry = keras_object(entry, "layer", path)
    check_keys(entry, _LAYER_KEYS, f"the layer entry {brief(entry.get('name'))}", path)
    kind = entry["class_name"]
    settings = json_object(entry.get("config"), f"The config of a {kind} layer", path)
    name = settings.get("name")
    if not isinstance(name, str) or not name:
        raise error(path, f"has a {brief(kind)} layer without a name")
    if kind == "InputLayer":
        return {"class_name": kind, "config": _input_layer(settings, path)}
    if kind not in LAYERS:
        raise error(
            path,
            f"has the layer {brief(name)} of class {brief(kind)}, which netfleet does not load "
            f"from Keras files; it loads {', '.join(sorted(LAYERS))} and InputLayer",
        )
    where = f"{kind} layer {brief(name)}"
    config = {"name": name, "trainable": settings.get("trainable", True)}
    check_dtype(settings.get("dtype"), where, path)
    table = LAYERS[kind]
    for key, value in settings.items():
        if key in ("name", "trainable", "dtype") or key in _MEANINGLESS_WHEN_OFF:
            continue
        if table.get(key) == _CHANNELS_LAST:
            if value not in (None, _CHANNELS_LAST):
                raise error(
                    path,
                    f"gives its {where} {key}={brief(value)}; netfleet reads "
                    "channels-last data only",
                )
        elif key in table:
            config[key] = _read_setting(table[key], value, f"{where}'s {key}", path)
        elif key in _OFF:
            if value != _OFF[key]:
                raise error(
                    path,
                    f"gives its {where} {key}={brief(value)}; netfleet has no such feature "
                    f"and loads it only as {brief(_OFF[key])}",
                )
        else:
            raise error(path, f"gives its {where} the setting {brief(key)}, unknown to netfleet")
    return {"class_name": kind, "config": config}


def _input_layer(settings, path):
    known = {"batch_shape", "batch_input_shape", "dtype", "name", "sparse", "ragged", "optional"}
    check_keys(settings, known, f"the InputLayer {brief(settings['name'])}", path)
    for flag in ("sparse", "ragged", "optional"):
        if settings.get(flag, False) is not False:
            raise error(path, f"has an InputLayer with {flag}=True, which netfleet does not load")
    dtype = settings.get("dtype", "float32")
    if dtype not in _INPUT_DTYPES:
        raise error(path, f"has an InputLayer of dtype {brief(dtype)}; netfleet reads numbers")
    shape = settings.get("batch_shape", settings.get("batch_input_shape"))
    if not isinstance(shape, list) or len(shape) < 2:
        raise error(path, f"has an InputLayer of shape {brief(shape)}, not [batch, ...]")
    return {"name": settings["name"], "shape": shape[1:], "batch_size": shape[0]}


def check_dtype(policy, where, path):
    """Keras' dtype policy of a layer: netfleet computes in float32 only."""
    name = policy
    if isinstance(policy, dict):
        config = policy.get("config")
        name = config.get("name") if isinstance(config, dict) else config
    if name not in (None, "float32"):
        raise error(path, f"has its {where} compute in {brief(name)}; netfleet uses float32")


def _read_setting(how, value, what, path):
    if how == _COPY:
        return value
    if how == _ACTIVATION:
        return _activation(value, what, path)
    return _initializer(value, what, path)


def _activation(value, what, path):
    """An activation's name, as Keras writes a built-in one."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in registry.entries("activation"):
        raise error(path, f"sets {what} to {brief(value)}, which is not one of netfleet's")
    return value


def _initializer(value, what, path):
    """netfleet's `{"class_name", "config"}` (or name) of a Keras initializer: a registered
    class, with only the settings netfleet's class takes (the others must be None)."""
    if isinstance(value, str):
        return value
    value = keras_object(value, what, path)
    kind = value["class_name"]
    if kind not in registry.entries("initializer"):
        raise error(path, f"sets {what} to the initializer {brief(kind)}, unknown to netfleet")
    settings = json_object(value.get("config", {}), f"The config of {what}", path)
    taken = inspect.signature(registry.get("initializer", kind)).parameters
    extra = sorted(key for key, v in settings.items() if key not in taken and v is not None)
    if extra:
        raise error(path, f"sets {what}'s {brief(extra)}, which netfleet does not take")
    return {"class_name": kind, "config": {k: v for k, v in settings.items() if k in taken}}


def keras_object(value, what, path):
    """A Keras object entry: a dict with a string class_name."""
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        raise error(path, f"has a malformed {what}: {brief(value)} has no class_name")
    return value


def json_object(value, what, path):
    """`value`, checked to be a JSON object (`what` names it in the error)."""
    if not isinstance(value, dict):
        raise error(path, f"has a malformed entry: {what} is {brief(value)}, not an object")
    return value


def check_keys(entry, known, what, path):
    """Refuse the keys of the JSON object `entry` outside `known`."""
    unknown = sorted(set(entry) - known)
    if unknown:
        raise error(path, f"gives {what} the keys {brief(unknown)}, unknown to netfleet")


def error(path, problem):
    """The `ModelFileError` of a `problem` with the Keras model file `path`."""
    return ModelFileError(f"The Keras model file {path} {problem}.")
