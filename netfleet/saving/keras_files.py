"""Keras 3 `.keras` files, loaded into netfleet: data only, known classes only, never code.

A `.keras` file is a zip archive of `metadata.json` (the Keras version), `config.json` (the
model's architecture and compile settings) and `model.weights.h5` (the weights, HDF5). The
config is translated into netfleet's by a fixed table (`keras_config`) and the weights read
with h5py (`pip install "netfleet[keras]"`). Keras lays out every weight netfleet loads as
netfleet does: a Dense kernel `(in, units)`, a convolution's kernel `(*kernel_size, in,
filters)` (channels last), BatchNormalization's `gamma, beta, moving_mean, moving_variance`,
an Embedding's `(input_dim, output_dim)` table; netfleet adds its member axis in front.

The file is read as untrusted input, with the discipline of netfleet's own files: the zip
archive is checked by `archive` (exactly those three entries, bounded sizes, nothing
extracted), the JSON by `jsontext`, and the model is built first on the "meta" device so
that the HDF5 datasets' declared dtypes, shapes and stored sizes are compared with it
before anything is allocated. In the HDF5 file only the groups Keras' layout names are
opened, through hard links only (never an external or soft link, an external or virtual
dataset, or a filter outside HDF5's built-in ones, which could load a plugin). Keras'
optimizer state is not read: a compiled model starts `fit` with a fresh optimizer.
"""

import importlib
import io
import os
import zipfile

import numpy as np
import torch

from netfleet import registry
from netfleet.errors import ModelFileError
from netfleet.ops import seeding
from netfleet.saving import archive, jsontext, keras_compile, keras_config, limits, state

CONFIG_ENTRY = "config.json"
METADATA_ENTRY = "metadata.json"
WEIGHTS_ENTRY = "model.weights.h5"
H5PY_INSTALL = 'pip install "netfleet[keras]"'
_MAX_METADATA_BYTES = 64 * 2**10
_ENTRIES = {
    CONFIG_ENTRY: limits.MAX_CONFIG_BYTES,
    METADATA_ENTRY: _MAX_METADATA_BYTES,
    WEIGHTS_ENTRY: None,
}
# HDF5's built-in filters (deflate, shuffle, fletcher32) and h5py's own LZF: none loads a plugin
_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 32000: "lzf"}
_H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError)


def load_keras_model(filepath, compile=True):
    """Load a Keras 3 `.keras` file of layers netfleet has, to predict as Keras does.

    Args:
        filepath: The `.keras` file (str or path-like).
        compile: Whether to compile the model with the optimizer, loss and metrics Keras
            saved, when netfleet has them (else it is loaded uncompiled, with a warning).
            Defaults to `True`.

    Returns:
        A netfleet `Sequential` or functional `Model` with Keras' weights.

    Raises:
        FileNotFoundError: there is no file at `filepath`.
        ImportError: h5py is not installed.
        ModelFileError: the file is damaged, is not a Keras 3 `.keras` file, holds code, or
            uses a layer, setting or weight netfleet does not load.
    """
    path = os.fspath(filepath)
    with archive.open_file(path) as (file, size, is_zip):
        if not is_zip:
            raise ModelFileError(f"{path} is not a Keras .keras file (a zip archive).")
        return read_keras_model(file, size, path, compile)


def is_keras_archive(file, size, path):
    """Whether the zip archive in `file` holds Keras' weights entry (its directory is
    bounded before it is read); `file` is left at its first byte."""
    archive._check_directory(file, size, path)
    try:
        with zipfile.ZipFile(file) as zip_file:
            names = zip_file.namelist()
    except (zipfile.BadZipFile, EOFError, UnicodeDecodeError, ValueError):
        names = []  # damaged: netfleet's own reader says how
    file.seek(0)
    return WEIGHTS_ENTRY in names


def read_keras_model(file, size, path, compile):
    """The model in the `.keras` zip archive `file` (see `load_keras_model`)."""
    h5py = _import_h5py()
    with archive.open_zip(file, size, path, _ENTRIES) as entries:
        _check_metadata(_json(entries.read(METADATA_ENTRY), METADATA_ENTRY, path), path)
        translation = keras_config.translate(
            _json(entries.read(CONFIG_ENTRY), CONFIG_ENTRY, path), path
        )
        weights = entries.read(WEIGHTS_ENTRY)
    config = {**translation.config, "member_params": [{}]}
    config["seed"] = seeding.draw_seed()
    config["member_seeds"] = [config["seed"]]
    generator = seeding.global_generator()
    random_state = generator.get_state()  # fresh layers draw weights that are then replaced
    try:
        with _hdf5(h5py, weights, path) as h5:
            with torch.device("meta"):
                layout = _build(config, path)
            datasets = _datasets(h5py, h5, layout, translation.weight_paths, path)
            _check_stored_sizes(datasets, len(weights), path)
            model = _build(config, path)
            tensors = {key: _read(dataset) for key, dataset in datasets.items()}
    finally:
        generator.set_state(random_state)
    state.load_weight_tensors(model, tensors, path)
    if compile and translation.compile_config:
        keras_compile.compile_model(model, translation.compile_config, path)
    return model


# -- the archive's JSON --------------------------------------------------------------------
def _json(raw, entry, path):
    return jsontext.parse(
        raw,
        limits.MAX_CONFIG_BYTES,
        lambda problem: ModelFileError(f"The {entry} of {path} {problem}."),
    )


def _check_metadata(metadata, path):
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    if not isinstance(version, str) or not version.startswith("3."):
        raise ModelFileError(
            f"{path} was written by Keras {jsontext.brief(version)}; netfleet reads the "
            ".keras files of Keras 3."
        )


def _build(config, path):
    try:
        return registry.get("model", config["class_name"]).from_config(config)
    except (ValueError, TypeError, ArithmeticError, LookupError, RuntimeError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelFileError(
            f"The Keras model file {path} describes a model netfleet cannot build: {first_line}"
        ) from None


# -- the HDF5 weights ----------------------------------------------------------------------
def _import_h5py():
    try:
        return importlib.import_module("h5py")
    except ImportError as error:
        raise ImportError(
            f"Loading a Keras .keras file reads its HDF5 weights with h5py, which is not "
            f"installed: {H5PY_INSTALL}"
        ) from error


class _hdf5:
    """The HDF5 file in the bytes `data`, opened for reading from memory (it names no path
    netfleet would open); h5py's errors are `ModelFileError`s naming `path`."""

    def __init__(self, h5py, data, path):
        self._h5py, self._data, self._path = h5py, data, path

    def __enter__(self):
        try:
            self._file = self._h5py.File(io.BytesIO(self._data), "r")
        except _H5_ERRORS as error:
            raise _damaged(self._path, error) from None
        return self._file

    def __exit__(self, kind, error, traceback):
        self._file.close()
        if (
            error is not None
            and isinstance(error, _H5_ERRORS)
            and not isinstance(error, ModelFileError)
        ):
            raise _damaged(self._path, error) from None


def _datasets(h5py, h5, model, paths, path):
    """`{"<layer>/<weight>": dataset}` for every weight of `model` (built on "meta"), each
    found where Keras puts it and checked against the model before any is read."""
    layers = _child(h5py, h5, "layers", h5py.Group, path)
    if len(layers) > limits.MAX_LAYERS:
        raise _weights_error(path, f"list {len(layers)} layers")
    unexpected = sorted(set(layers) - {p.split("/")[1] for p in paths.values()})
    if unexpected:
        raise _weights_error(
            path, f"hold the layers {jsontext.brief(unexpected)}, not in the model"
        )
    datasets = {}
    for layer in model.layers:
        group = paths.get(layer.name, "").partition("/")[2]
        if layer.weight_names:
            holder = _child(
                h5py, _child(h5py, layers, group, h5py.Group, path), "vars", h5py.Group, path
            )
        elif group in layers and "vars" in layers[group]:
            holder = _child(h5py, layers[group], "vars", h5py.Group, path)
        else:
            continue
        if len(holder) != len(layer.weight_names):
            raise _weights_error(
                path,
                f"give layer '{layer.name}' ({type(layer).__name__}) {len(holder)} weights; "
                f"netfleet's has {len(layer.weight_names)} ({', '.join(layer.weight_names)})",
            )
        for index, name in enumerate(layer.weight_names):
            dataset = _child(h5py, holder, str(index), h5py.Dataset, path)
            _check_dataset(
                h5py, dataset, tuple(getattr(layer, name).shape[1:]), f"{layer.name}/{name}", path
            )
            datasets[f"{layer.name}/{name}"] = dataset
    return datasets


def _child(h5py, group, name, kind, path):
    """`group[name]`, reached through a hard link (never a soft or an external one) and of
    `kind` (`h5py.Group` or `h5py.Dataset`)."""
    link = group.get(name, getlink=True)
    where = f"{group.name.rstrip('/')}/{name}"
    if link is None:
        raise _weights_error(path, f"have no {where}, where Keras keeps a weight netfleet needs")
    if not isinstance(link, h5py.HardLink):
        raise _weights_error(
            path, f"make {where} a {type(link).__name__}; netfleet never follows links"
        )
    item = group[name]
    if not isinstance(item, kind):
        raise _weights_error(
            path, f"hold {where} as a {type(item).__name__}, not a {kind.__name__}"
        )
    return item


def _check_dataset(h5py, dataset, shape, key, path):
    """A weight's dataset must be plain stored floats of the model's shape."""
    where = f"{dataset.name} (netfleet's '{key}')"
    if dataset.dtype.kind != "f" or dataset.dtype.itemsize not in (2, 4, 8):
        raise _weights_error(path, f"hold {where} as {dataset.dtype}, not floats")
    if tuple(dataset.shape) != shape:
        raise _weights_error(
            path, f"hold {where} of shape {tuple(dataset.shape)}; the model needs {shape}"
        )
    plist = dataset.id.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL or plist.get_external_count():
        raise _weights_error(
            path,
            f"keep {where} in other files (a virtual or external dataset); netfleet never opens them",
        )
    for index in range(plist.get_nfilters()):
        code = plist.get_filter(index)[0]
        if code not in _FILTERS:
            raise _weights_error(
                path,
                f"compress {where} with the HDF5 filter {code}; netfleet reads only "
                f"{', '.join(_FILTERS.values())}",
            )


def _check_stored_sizes(datasets, file_bytes, path):
    """The weights may unpack to no more than `limits.MAX_COMPRESSION_RATIO` times what
    the file stores (an HDF5 dataset can declare a size it never stores)."""
    total = 0
    for key, dataset in datasets.items():
        declared = dataset.size * dataset.dtype.itemsize
        stored = dataset.id.get_storage_size()
        if declared > max(limits.RATIO_FREE_BYTES, stored * limits.MAX_COMPRESSION_RATIO):
            raise _weights_error(
                path, f"declare {declared} bytes for '{key}' but store {stored} (a bomb?)"
            )
        total += declared
    if total > max(limits.RATIO_FREE_BYTES, file_bytes * limits.MAX_COMPRESSION_RATIO):
        raise _weights_error(
            path, f"declare {total} bytes of weights in {file_bytes} bytes of HDF5"
        )


def _read(dataset):
    """A dataset's values as a `(1, *shape)` float32 tensor."""
    values = np.asarray(dataset[()], dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(values)).unsqueeze(0)


def _weights_error(path, problem):
    return ModelFileError(
        f"The weights (model.weights.h5) of the Keras model file {path} {problem}."
    )


def _damaged(path, error):
    return ModelFileError(
        f"The weights (model.weights.h5) of the Keras model file {path} are damaged: {error}."
    )
