"""Model files and weight files.

A model file (any name; Keras users write `model.keras` or `model.h5`) is a zip archive of
two entries:

- `config.json`: `{"format": "netfleet.model", "format_version": 1, "netfleet_version",
  "model": <model config>, "compile": <compile config or null>}`;
- `model.weights.safetensors`: every weight as `<layer name>/<weight name>` `(M, *shape)`,
  the optimizer state as `optimizer/iterations` and `optimizer/<slot>`, and the members'
  random generator states as `generators/<stream>`, so that training resumes exactly.

A weights file is that safetensors file alone, with weights only. Files are written through
a temporary file and moved into place, and reading one never runs code: no pickle, and
layer classes are looked up among netfleet's own.

Example:
    >>> import os, tempfile
    >>> import netfleet as nf
    >>> model = nf.Sequential([nf.layers.Dense(2, input_shape=(3,))])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> save_model(model, path)
    >>> load_model(path).get_config() == model.get_config()
    True
"""

import errno
import json
import os
import zipfile
import zlib

import numpy as np
import safetensors
import safetensors.torch

from netfleet import registry
from netfleet.errors import InvalidTypeError, ModelFileError
from netfleet.ops import seeding
from netfleet.saving import state
from netfleet.saving.atomic import write_atomically
from netfleet.saving.config import compile_config, compile_from_config, field, require_dict
from netfleet.version import __version__

FORMAT = "netfleet.model"
FORMAT_VERSION = 1
WEIGHTS_FORMAT = "netfleet.weights"
CONFIG_ENTRY = "config.json"
WEIGHTS_ENTRY = "model.weights.safetensors"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed entry times: the same model gives the same bytes


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
        with zipfile.ZipFile(file, "w") as archive:
            _add_entry(archive, CONFIG_ENTRY, config, zipfile.ZIP_DEFLATED)
            _add_entry(archive, WEIGHTS_ENTRY, _serialize(tensors), zipfile.ZIP_STORED)

    write_atomically(filepath, write, overwrite)


def load_model(filepath, compile=True):
    """Load a model written by `save_model`.

    Args:
        filepath: The model file (str or path-like).
        compile: Whether to compile the model as it was saved, with its optimizer state.
            Defaults to `True`.

    Returns:
        The model, its predictions bitwise equal to the saved model's.

    Raises:
        FileNotFoundError: there is no file at `filepath`.
        ModelFileError: the file is damaged or is not a netfleet model file.
    """
    path = _existing(filepath)
    document, tensors = _read_model_file(path)
    generator = seeding.global_generator()
    random_state = generator.get_state()  # fresh layers draw weights that are then replaced
    try:
        model = _rebuild(document["model"])
        if compile and document.get("compile") is not None:
            compile_from_config(model, document["compile"])
    except (ValueError, TypeError) as error:
        raise ModelFileError(f"{path} describes a model netfleet cannot build: {error}") from error
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
    }
    write_atomically(filepath, lambda file: file.write(_serialize(tensors, metadata)), overwrite)


def load_weights(model, filepath):
    """Load weights saved by `save_weights` (or from a model file) into `model`.

    A 1-member file fills every member of a fleet.

    Raises:
        FileNotFoundError: there is no file at `filepath`.
        ModelFileError: the file is damaged, or its weight names or shapes do not fit.
        NotBuiltError: the model has no weights yet.
    """
    model.require_built("load_weights()")
    path = _existing(filepath)
    if zipfile.is_zipfile(path):
        _, tensors = _read_model_file(path)
    else:
        with open(path, "rb") as file:
            tensors = _deserialize(file.read(), path)
    state.load_weight_tensors(model, tensors, path, broadcast=True)


# -- reading -------------------------------------------------------------------------------
def _existing(filepath):
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "No model or weights file at this path", path)
    if os.path.isdir(path):
        raise ModelFileError(f"{path} is a folder; a netfleet model is a single file.")
    return path


def _read_model_file(path):
    """The parsed `config.json` and the tensors of the model file at `path`."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            for entry in (CONFIG_ENTRY, WEIGHTS_ENTRY):
                if entry not in names:
                    raise ModelFileError(
                        f"{path} is a zip archive but not a netfleet model file: it has no "
                        f"{entry} entry (it has {sorted(names)})."
                    )
            config, weights = archive.read(CONFIG_ENTRY), archive.read(WEIGHTS_ENTRY)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ModelFileError(
            f"{path} is not a netfleet model file, or it is damaged ({error}). A weights file "
            "from save_weights() is loaded with model.load_weights()."
        ) from error
    return _parse_document(config, path), _deserialize(weights, path)


def _parse_document(raw, path):
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"The {CONFIG_ENTRY} of {path} is not valid JSON: {error}") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(
            f"The {CONFIG_ENTRY} of {path} does not describe a netfleet model "
            f"(its format should be {FORMAT!r})."
        )
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ModelFileError(
            f"{path} has format version {version!r}; this netfleet ({_version()}) reads "
            f"version {FORMAT_VERSION}."
            + (" It was written by a newer netfleet: upgrade netfleet to load it." if newer else "")
        )
    if not isinstance(document.get("model"), dict):
        raise ModelFileError(f"The {CONFIG_ENTRY} of {path} has no model config.")
    return document


def _deserialize(raw, path):
    try:
        return safetensors.torch.load(raw)
    except safetensors.SafetensorError as error:
        raise ModelFileError(f"The weights in {path} are damaged: {error}.") from error


# -- writing -------------------------------------------------------------------------------
def _serialize(tensors, metadata=None):
    return safetensors.torch.save(tensors, metadata=metadata)


def _add_entry(archive, name, data, compression):
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


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
