"""Durable runs: a results directory that keeps each group as it finishes, so that a run
started again resumes instead of training everything anew.

A directory holds one run:

    run.json                      the run's fingerprint, by part
    group-0003/weights.safetensors the trained weights, `<member>/<weight>` as
                                  `model.get_weights()` lists them
    group-0003/group.json         each member's history and the hook's records, written
                                  last: the group is finished once it exists

Every file is written atomically, so an interrupted run leaves finished groups and nothing
half-written that could pass for one. A run started again on the same directory reads its
finished groups back (weights, histories and records equal those of the run that trained
them) and trains only the others.

The fingerprint tells runs apart: digests of the members' settings (the grid) and what the
front end adds (the seed, the search's candidates, scoring and splitter), each model's
config (its layers' generated names and seeds aside) and compile settings, the data
(shapes, dtypes and bytes of `x`, `y`, the members' rows, validation data, sample weights)
and the other fit settings (callbacks by their class). A directory that holds a run with another
fingerprint is refused. An unseeded run resumes with new random initial weights for the
groups it trains: seed a run (`seed=`) to make it reproducible.
"""

import hashlib
import json
import os

import numpy as np
import safetensors.numpy

from netfleet.callbacks.base import Callback
from netfleet.callbacks.history import History
from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.fleet.runner import GroupResult, Record
from netfleet.saving.atomic import write_atomically

FORMAT = "netfleet.run"
VERSION = 1
RUN_FILE = "run.json"
GROUP_FILE = "group.json"
WEIGHTS_FILE = "weights.safetensors"
_DATA_FIT = ("validation_data", "sample_weight")
_UNFINGERPRINTED_FIT = ("verbose",)  # fit settings that change no result
_UNFINGERPRINTED_CONFIG = ("seed", "member_seeds")  # drawn anew by an unseeded build
_TAGS = ("__tuple__", "__array__", "__items__")


class ResultStore:
    """A results directory for one run of groups (see the module docstring).

    Args:
        directory: The folder (str or path-like); made if missing.
        settings: What else decides the run's results that its groups do not show (a
            search's candidates and scoring), fingerprinted with them. Defaults to none.
    """

    def __init__(self, directory, settings=None):
        if not isinstance(directory, (str, os.PathLike)):
            raise InvalidTypeError(f"A results_dir must be a folder path. Got {directory!r}.")
        self.directory = os.fspath(directory)
        self.settings = {} if settings is None else settings

    def open(self, groups):
        """Start or continue the run of `groups` here: the finished ones, by group index,
        read back into their models.

        Raises:
            InvalidArgumentError: the directory holds another run, or files that are not
                a run's.
        """
        fingerprint = run_fingerprint(groups, self.settings)
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, RUN_FILE)
        if os.path.exists(path):
            self._check(_read_json(path), fingerprint)
        elif os.listdir(self.directory):
            raise InvalidArgumentError(
                f"The results_dir {self.directory} is not empty and holds no netfleet run "
                f"({RUN_FILE}): give an empty or new folder."
            )
        else:
            document = {"format": FORMAT, "version": VERSION, "fingerprint": fingerprint}
            _write_json(path, document)
        return {
            index: self._load(index, group)
            for index, group in enumerate(groups)
            if os.path.exists(os.path.join(self._folder(index), GROUP_FILE))
        }

    def save(self, index, group, result):
        """Keep the finished group number `index`: its trained models and the hook's
        records."""
        folder = self._folder(index)
        os.makedirs(folder, exist_ok=True)
        tensors = {
            f"{m}/{w}": np.ascontiguousarray(weight)
            for m, model in enumerate(result.models)
            for w, weight in enumerate(model.get_weights())
        }
        weights = safetensors.numpy.save(tensors)
        write_atomically(os.path.join(folder, WEIGHTS_FILE), lambda file: file.write(weights))
        position = {member.key: m for m, member in enumerate(group.members)}
        document = {
            "histories": [
                {"epoch": model.history.epoch, "history": model.history.history}
                for model in result.models
            ],
            "records": [
                [position[record.key], record.epoch, encode(record.value)]
                for record in result.records
            ],
        }
        _write_json(os.path.join(folder, GROUP_FILE), document)

    def _load(self, index, group):
        """The `GroupResult` of a finished group, its weights and histories put into the
        group's models."""
        folder = self._folder(index)
        document = _read_json(os.path.join(folder, GROUP_FILE))
        with open(os.path.join(folder, WEIGHTS_FILE), "rb") as file:
            tensors = safetensors.numpy.load(file.read())
        for m, (model, member) in enumerate(zip(group.models, group.members)):
            count = len(model.get_weights())
            model.set_weights([tensors[f"{m}/{w}"] for w in range(count)])
            history = History()
            history.epoch = list(document["histories"][m]["epoch"])
            history.history = dict(document["histories"][m]["history"])
            history.member_params = [member.params]
            model.member_params = [member.params]
            model.history = history
        records = [
            Record(group.members[m].key, epoch, decode(value))
            for m, epoch, value in document["records"]
        ]
        return GroupResult([member.key for member in group.members], list(group.models), records)

    def _check(self, document, fingerprint):
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise InvalidArgumentError(
                f"The {RUN_FILE} of the results_dir {self.directory} is not a netfleet run's."
            )
        stored = document.get("fingerprint", {})
        changed = [part for part in fingerprint if stored.get(part) != fingerprint[part]]
        if changed:
            raise InvalidArgumentError(
                f"The results_dir {self.directory} holds the results of another run: its "
                f"{', '.join(changed)} differ from this one's (a changed grid, model, data "
                "set or fit setting). Give a new results_dir, or delete this one to start "
                "over; results of different runs are never mixed."
            )

    def _folder(self, index):
        return os.path.join(self.directory, f"group-{index:04d}")


def run_fingerprint(groups, settings=None):
    """Digests, by part, of what decides the results of running `groups` (see the module
    docstring): `settings`, `models`, `data` and `fit`."""
    cache = {}
    parts = {
        "settings": [
            settings or {},
            [
                [(m.key, m.epochs, m.batch_size, m.checkpoints, m.params) for m in group.members]
                for group in groups
            ],
        ],
        "models": [[_model_state(model) for model in group.models] for group in groups],
        "data": [
            [
                group.x,
                group.y,
                [member.rows for member in group.members],
                [group.fit.get(name) for name in _DATA_FIT],
            ]
            for group in groups
        ],
        "fit": [
            {
                name: value
                for name, value in group.fit.items()
                if name not in _DATA_FIT + _UNFINGERPRINTED_FIT
            }
            for group in groups
        ],
    }
    return {name: _digest(value, cache) for name, value in parts.items()}


def _model_state(model):
    """A model's config with its layers' generated names numbered in order (each build
    names them anew) and without its seeds (the front end fingerprints the seed it was
    given), and its compile settings."""
    config = {k: v for k, v in model.get_config().items() if k not in _UNFINGERPRINTED_CONFIG}
    names = {}
    _collect_names(config, names)
    compiled = model.compiled.get_config() if model.compiled is not None else None
    return [_rename(config, names), compiled]


def _collect_names(config, names):
    if isinstance(config, dict):
        for key, value in config.items():
            if key == "name" and isinstance(value, str):
                names.setdefault(value, f"#{len(names)}")
            _collect_names(value, names)
    elif isinstance(config, (list, tuple)):
        for item in config:
            _collect_names(item, names)


def _rename(config, names):
    if isinstance(config, dict):
        return {key: _rename(value, names) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return [_rename(item, names) for item in config]
    return names.get(config, config) if isinstance(config, str) else config


def _digest(value, cache):
    hasher = hashlib.blake2b(digest_size=16)
    _feed(hasher, value, cache)
    return hasher.hexdigest()


def _feed(hasher, value, cache):
    """Feed `value` to `hasher` as bytes that only an equal value gives."""
    if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):
        value = value.to_numpy()  # a DataFrame or Series
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        hasher.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, np.ndarray):
        hasher.update(_array_digest(value, cache))
    elif isinstance(value, (list, tuple)):
        hasher.update(f"{type(value).__name__}[{len(value)}](".encode())
        for item in value:
            _feed(hasher, item, cache)
        hasher.update(b")")
    elif isinstance(value, dict):
        hasher.update(f"dict[{len(value)}](".encode())
        for key in sorted(value, key=repr):
            _feed(hasher, key, cache)
            _feed(hasher, value[key], cache)
        hasher.update(b")")
    else:
        kind = type(value)
        hasher.update(f"{kind.__module__}.{kind.__qualname__}".encode())
        if isinstance(value, Callback):
            return  # callbacks by their class: their state changes as they run
        if callable(getattr(value, "get_config", None)):
            _feed(hasher, value.get_config(), cache)
        elif callable(value):
            hasher.update(getattr(value, "__qualname__", "").encode())
        elif " at 0x" not in repr(value):
            hasher.update(repr(value).encode())


def _array_digest(array, cache):
    """The digest of an array's dtype, shape and values, once per array object."""
    if id(array) not in cache:
        hasher = hashlib.blake2b(digest_size=16)
        hasher.update(f"array:{array.dtype.str}:{array.shape}:".encode())
        if array.dtype.hasobject:
            _feed(hasher, array.tolist(), cache)
        else:
            hasher.update(np.ascontiguousarray(array).data)
        cache[id(array)] = (array, hasher.digest())  # keeps `array` alive: ids stay unique
    return cache[id(array)][1]


def encode(value):
    """`value` (a hook's record) as JSON data that `decode` turns back into it: tuples,
    NumPy scalars and arrays, and dicts with keys that are not strings included."""
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [encode(item) for item in value]}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        return {"__array__": encode(value.tolist()), "dtype": value.dtype.str}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and not set(value) & set(_TAGS):
            return {key: encode(item) for key, item in value.items()}
        return {"__items__": [[encode(key), encode(item)] for key, item in value.items()]}
    raise InvalidTypeError(
        "A results_dir stores what the hook returns as JSON: numbers, strings, None, lists, "
        f"tuples, dicts and NumPy arrays. Got a {type(value).__name__}: {value!r}."
    )


def decode(data):
    """The value that `encode` turned into `data`."""
    if isinstance(data, list):
        return [decode(item) for item in data]
    if not isinstance(data, dict):
        return data
    if "__tuple__" in data:
        return tuple(decode(item) for item in data["__tuple__"])
    if "__array__" in data:
        return np.array(decode(data["__array__"]), dtype=np.dtype(data["dtype"]))
    if "__items__" in data:
        return {decode(key): decode(item) for key, item in data["__items__"]}
    return {key: decode(item) for key, item in data.items()}


def _write_json(path, document):
    text = json.dumps(document, allow_nan=True)
    write_atomically(path, lambda file: file.write(text.encode("utf-8")))


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except ValueError as error:
        raise InvalidArgumentError(
            f"The results file {path} is damaged ({error}): delete it to train its group again."
        ) from None
