"""Model files and weight files.

A model file (any name; Keras users write `model.keras` or `model.h5`) is a zip archive of
two entries:

- `config.json`: `{"format": "netfleet.model", "format_version": 1, "netfleet_version",
  "model": <model config>, "compile": <compile config or null>}`;
- `model.weights.safetensors`: every weight as `<layer name>/<weight name>` `(M, *shape)`,
  the optimizer state as `optimizer/iterations` and `optimizer/<slot>`, and the members'
  random generator states as `generators/<stream>`, so that training resumes exactly.

A weights file is that safetensors file alone, with weights only; its metadata records the
layers in order (`"layers"`: `[[name, class name], ...]`), so that a model whose generated
layer names differ loads it by structure, as Keras does. Files are written through a
temporary file and moved into place.

A file is read as untrusted input. Reading one never runs code, imports a name, or opens
another file or path it names: no pickle, and model, layer and optimizer classes are looked up
among netfleet's registered ones. Everything it declares is checked before it is allocated:
the container (`archive`), the config (`jsontext`, `limits`), the weights' header
(`tensorfile`), and the model it describes, built first on the "meta" device, against that
header. Whatever is wrong is a `ModelFileError` naming the file.

Example:
    >>> import os, tempfile
    >>> import netfleet as nf
    >>> model = nf.Sequential([nf.layers.Dense(2, input_shape=(3,))])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> save_model(model, path)
    >>> load_model(path).get_config() == model.get_config()
    True
"""

import json
import os
import zipfile

import numpy as np
import safetensors.torch
import torch

from netfleet import registry
from netfleet.errors import InvalidTypeError, ModelFileError, argument_error
from netfleet.ops import seeding
from netfleet.saving import archive, custom, jsontext, keras_files, limits, state, tensorfile
from netfleet.saving.atomic import write_atomically
from netfleet.saving.config import compile_config, compile_from_config, field, require_dict
from netfleet.version import __version__

FORMAT = "netfleet.model"
FORMAT_VERSION = 1
WEIGHTS_FORMAT = "netfleet.weights"
CONFIG_ENTRY = "config.json"
WEIGHTS_ENTRY = "model.weights.safetensors"
LAYERS_METADATA = "layers"  # a weights file's layer order: [[name, class name], ...]
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed entry times: the same model gives the same bytes
_ENTRIES = {CONFIG_ENTRY: limits.MAX_CONFIG_BYTES, WEIGHTS_ENTRY: None}
_DOCUMENT_KEYS = {"format", "format_version", "netfleet_version", "model", "compile"}
# what building a model from a config may raise: its own checks, and torch's for shapes that
# no tensor, even a meta one, can have
_BUILD_ERRORS = (ValueError, TypeError, ArithmeticError, LookupError, RuntimeError)


def save_model(model, filepath, overwrite=True):
    """Save `model` (architecture, compile settings, weights, training state) to one file.

    Args:
        model: A `Sequential` or functional `Model`.
        filepath: Where to write (str or path-like); any extension.
        overwrite: Whether an existing file may be replaced. Defaults to `True`.

    Raises:
        FileExistsError: the file exists and `overwrite` is False.
        InvalidArgumentError: the model uses something a file cannot name (a custom loss).
    """
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "netfleet_version": _version(),
        "model": model.get_config(),
        "compile": compile_config(model),
    }
    config = json.dumps(document, indent=2, default=_json_value).encode("utf-8")
    tensors = {**state.weight_tensors(model), **state.training_tensors(model)}

    def write(file):
        with zipfile.ZipFile(file, "w") as zip_file:
            _add_entry(zip_file, CONFIG_ENTRY, config, zipfile.ZIP_DEFLATED)
            _add_entry(zip_file, WEIGHTS_ENTRY, _serialize(tensors), zipfile.ZIP_STORED)

    write_atomically(filepath, write, overwrite)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model written by `save_model`, or a Keras 3 `.keras` file of layers netfleet
    has (see `keras_files.load_keras_model`; the format is told by the file's entries).
    Keras' signature.

    The file is checked before anything it declares is built: the model is first built on
    the "meta" device (shapes, no memory) and its weights compared with the weights file's
    header, so a file can make netfleet allocate no more than it holds.

    Args:
        filepath: The model file (str or path-like).
        custom_objects: The user-defined layer classes the file may name, by class name
            (besides those registered with `register_keras_serializable`). Defaults to
            `None`.
        compile: Whether to compile the model as it was saved, with its optimizer state.
            Defaults to `True`.
        safe_mode: Accepted for Keras' signature: netfleet never loads code from a file,
            so loading is always safe. Defaults to `True`.

    Returns:
        The model, its predictions bitwise equal to the saved model's.

    Raises:
        FileNotFoundError: there is no file at `filepath`.
        ModelFileError: the file is damaged, is not a netfleet model file, or declares more
            than it holds or than `netfleet.saving.limits` allows.
    """
    if not isinstance(compile, bool) or not isinstance(safe_mode, bool):
        raise argument_error(
            "compile" if not isinstance(compile, bool) else "safe_mode",
            "load_model",
            "True or False",
            compile if not isinstance(compile, bool) else safe_mode,
        )
    path = os.fspath(filepath)
    with custom.custom_object_scope(custom_objects):
        return _load_model(path, compile)


def _load_model(path, compile):
    """`load_model`, with the custom objects in scope."""
    with archive.open_file(path) as (file, size, is_zip):
        if is_zip and keras_files.is_keras_archive(file, size, path):
            return keras_files.read_keras_model(file, size, path, compile)
        generator = seeding.global_generator()
        random_state = generator.get_state()  # fresh layers draw weights that are then replaced
        try:
            document, tensors = _read_netfleet_model(file, size, is_zip, path, compile)
            model = _build(document, path, compile)
        finally:
            generator.set_state(random_state)
    state.load_weight_tensors(model, tensors, path)
    state.load_training_tensors(model, tensors, path, optimizer=compile)
    return model


def save_weights(model, filepath, overwrite=True):
    """Save the weights of `model` as a `.safetensors` file (`<layer>/<weight>`, `(M, *shape)`).

    Args:
        model: A built model.
        filepath: Where to write (str or path-like).
        overwrite: Whether an existing file may be replaced. Defaults to `True`.

    Raises:
        FileExistsError: the file exists and `overwrite` is False.
        NotBuiltError: the model has no weights yet.
    """
    model.require_built("save_weights()")
    tensors = state.weight_tensors(model)
    metadata = {
        "format": WEIGHTS_FORMAT,
        "format_version": str(FORMAT_VERSION),
        "netfleet_version": _version(),
        "members": str(model.num_members),
        LAYERS_METADATA: json.dumps(state.layer_order(model)),
    }
    write_atomically(filepath, lambda file: file.write(_serialize(tensors, metadata)), overwrite)


def load_weights(model, filepath):
    """Load weights saved by `save_weights` (or from a model file) into `model`.

    Weights are matched by name when every name agrees, else by structure (layer order and
    weight shapes, as Keras does): a freshly built model of the same architecture, whose
    generated layer names differ from the saved model's, loads them. A 1-member file fills
    every member of a fleet. The file's header is checked against the model's weights before
    any tensor is read.

    Raises:
        FileNotFoundError: there is no file at `filepath`.
        ModelFileError: the file is damaged, or its weights fit the model neither by name
            nor by structure.
        NotBuiltError: the model has no weights yet.
    """
    model.require_built("load_weights()")
    path = os.fspath(filepath)
    file_layers = None

    def check_fit(layout, layers):
        nonlocal file_layers
        file_layers = layers
        state.check_weights(model, layout.specs, path, broadcast=True, file_layers=layers)

    with archive.open_file(path) as (file, size, is_zip):
        if is_zip:
            _, tensors = _read_model_file(
                file,
                size,
                path,
                lambda document, layout: check_fit(layout, _config_layer_order(document, path)),
            )
        else:
            layout = tensorfile.read_layout(file, size, path)
            check_fit(layout, _metadata_layer_order(layout.metadata, path))
            tensors = tensorfile.read_tensors(file, layout, path)
    state.load_weight_tensors(model, tensors, path, broadcast=True, file_layers=file_layers)


# -- reading -------------------------------------------------------------------------------
def _read_netfleet_model(file, size, is_zip, path, compile):
    """The config and tensors of the netfleet model file `file`, checked to fit each other."""
    if not is_zip:
        raise ModelFileError(
            f"{path} is not a netfleet model file (a zip archive), or it is damaged. A "
            "weights file from save_weights() is loaded with model.load_weights()."
        )
    return _read_model_file(
        file,
        size,
        path,
        lambda document, layout: _check_fit(document, layout, path, compile),
    )


def _read_model_file(file, size, path, check_fit):
    """The parsed `config.json` and the tensors of the model file `file`, read only once
    `check_fit(document, layout)` accepted the config and the weights' header."""
    with archive.open_zip(file, size, path, _ENTRIES) as entries:
        document = _parse_document(entries.read(CONFIG_ENTRY), path)
        with entries.open(WEIGHTS_ENTRY) as (stream, weights_size):
            layout = tensorfile.read_layout(stream, weights_size, path)
            check_fit(document, layout)
            return document, tensorfile.read_tensors(stream, layout, path)


def _parse_document(raw, path):
    document = jsontext.parse(
        raw,
        limits.MAX_CONFIG_BYTES,
        lambda problem: ModelFileError(f"The {CONFIG_ENTRY} of {path} {problem}."),
    )
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(
            f"The {CONFIG_ENTRY} of {path} does not describe a netfleet model "
            f"(its format should be {FORMAT!r})."
        )
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ModelFileError(
            f"{path} has format version {jsontext.brief(version)}; this netfleet ({_version()}) "
            f"reads version {FORMAT_VERSION}."
            + (" It was written by a newer netfleet: upgrade netfleet to load it." if newer else "")
        )
    unknown = sorted(set(document) - _DOCUMENT_KEYS)
    if unknown:
        raise ModelFileError(
            f"The {CONFIG_ENTRY} of {path} has the unexpected entries "
            f"{', '.join(map(jsontext.brief, unknown))}; netfleet writes and reads only "
            f"{', '.join(sorted(_DOCUMENT_KEYS))}, and nothing in a file changes how it is read."
        )
    if not isinstance(document.get("model"), dict):
        raise ModelFileError(f"The {CONFIG_ENTRY} of {path} has no model config.")
    return document


def _check_fit(document, layout, path, compile):
    """Build the model `document` describes on the "meta" device (shapes, no memory), and
    refuse the file unless its weights' header declares exactly that model's weights."""
    with torch.device("meta"):
        model = _build(document, path, compile)
    state.check_weights(model, layout.specs, path)


def _config_layer_order(document, path):
    """The layers of the model a model file describes, in order (`state.layer_order`)."""
    entries = document["model"].get("layers")
    try:
        return [[entry["config"]["name"], entry["class_name"]] for entry in entries]
    except (TypeError, KeyError):
        raise ModelFileError(
            f"The {CONFIG_ENTRY} of {path} has a malformed list of layers."
        ) from None


def _metadata_layer_order(metadata, path):
    """The layer order a weights file records (`state.layer_order`), or None for a file
    written before netfleet recorded it."""
    if LAYERS_METADATA not in metadata:
        return None
    order = jsontext.parse(
        metadata[LAYERS_METADATA].encode("utf-8"),
        limits.MAX_HEADER_BYTES,
        lambda problem: ModelFileError(f"The list of layers in {path} {problem}."),
    )
    pairs = isinstance(order, list) and all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
        for pair in order
    )
    if not pairs:
        raise ModelFileError(
            f"The weights in {path} are damaged: their list of layers is not "
            f"[[name, class name], ...]. Got {jsontext.brief(order)}."
        )
    return order


def _build(document, path, compile):
    """The model `document` describes, compiled as saved if `compile`."""
    try:
        model = _rebuild(document["model"])
        if compile and document.get("compile") is not None:
            compile_from_config(model, document["compile"])
    except _BUILD_ERRORS as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelFileError(
            f"{path} describes a model netfleet cannot build: {first_line}"
        ) from None
    return model


# -- writing -------------------------------------------------------------------------------
def _serialize(tensors, metadata=None):
    return safetensors.torch.save(tensors, metadata=metadata)


def _add_entry(zip_file, name, data, compression):
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    zip_file.writestr(info, data)


def _json_value(value):
    """JSON for NumPy values in configs (member settings often hold them)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise InvalidTypeError(
        f"Cannot write {value!r} (a {type(value).__name__}) into a model config: layer "
        "settings and member_params must be numbers, strings, booleans, lists or dicts."
    )


def _rebuild(config):
    """The model `config` describes, its class looked up among the registered models only."""
    require_dict(config, "The model config")
    return registry.get("model", field(config, "class_name", str)).from_config(config)


def _version():
    return __version__
