"""Hostile model and weights files are refused, cheaply: each attack below is a
`ModelFileError` that names the file and what is wrong, raised before anything the file
declares is allocated, and loading never runs code, imports a name or opens another path.

The CVE tests replay published Keras deserialization attacks as the same attack on
netfleet's format. What loading does is watched through Python's audit hooks (PEP 578):
every open, import, code compilation or execution, unpickling and connection is recorded.
"""

import base64
import copy
import json
import marshal
import os
import pickle
import stat
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch

import netfleet as nf
from netfleet import layers, registry
from netfleet.errors import ModelFileError
from netfleet.saving import files, limits, load_model, save_model, save_weights, tensorfile

CONFIG, WEIGHTS = files.CONFIG_ENTRY, files.WEIGHTS_ENTRY
CODE_EVENTS = (
    "import",
    "exec",
    "compile",
    "marshal.loads",
    "pickle.find_class",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "subprocess.Popen",
    "ctypes.dlopen",
    "socket.connect",
    "socket.getaddrinfo",
    "urllib.Request",
)


# -- watching what loading does ------------------------------------------------------------
class Watch:
    """The audit events raised while it is entered (the hook stays installed, idle)."""

    active = None

    def __enter__(self):
        self.events = []
        Watch.active = self
        return self

    def __exit__(self, *exc_info):
        Watch.active = None

    def opened(self):
        """The paths opened by name (file descriptors left out)."""
        return {
            os.fspath(args[0])
            for event, args in self.events
            if event == "open" and not isinstance(args[0], int)
        }

    def code_events(self):
        return [(event, args) for event, args in self.events if event.startswith(CODE_EVENTS)]


def _audit(event, args):
    watch = Watch.active
    if watch is not None and (event == "open" or event.startswith(CODE_EVENTS)):
        watch.events.append((event, args))


sys.addaudithook(_audit)


def assert_nothing_ran(watch, path, marker=None):
    """Loading opened `path` alone, and imported, compiled, ran, unpickled and reached nothing."""
    assert watch.opened() <= {os.fspath(path)}, watch.opened()
    assert watch.code_events() == []
    assert "evil_module" not in sys.modules
    if marker is not None:
        assert not marker.exists()


# -- files to attack -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A trained 3 → 4 → 2 classifier's model file, loaded once (so lazy imports are done)."""
    nf.utils.set_random_seed(0)
    nf.backend.clear_session()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    model = nf.Sequential(
        [layers.Dense(4, activation="relu", input_shape=(3,)), layers.Dense(2, "softmax")], seed=1
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, (x[:, 0] > 0).astype(np.int64), epochs=1, batch_size=8, verbose=0)
    path = tmp_path_factory.mktemp("template") / "model.keras"
    save_model(model, path)
    load_model(path)
    with zipfile.ZipFile(path) as archive:
        return path.read_bytes(), json.loads(archive.read(CONFIG)), archive.read(WEIGHTS)


@pytest.fixture
def saved(template, tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(template[0])
    return path


@pytest.fixture
def built(template, tmp_path):
    """A model of the template's architecture, to load weights into."""
    path = tmp_path / "built.keras"
    path.write_bytes(template[0])
    return load_model(path)


@pytest.fixture
def evil_module(tmp_path, monkeypatch):
    """An importable module that leaves a marker file when imported or called."""
    marker = tmp_path / "pwned"
    (tmp_path / "evil_module.py").write_text(
        f"import pathlib\nMARKER = pathlib.Path({str(marker)!r})\nMARKER.touch()\n\n"
        "def boom(*args, **kwargs):\n    MARKER.touch()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("evil_module", None)


def write_zip(path, entries, compression=zipfile.ZIP_STORED):
    """A zip at `path` of `entries`: `(name or ZipInfo, bytes or str)` pairs."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def rewrite(path, template, edit=None, config=None, weights=None, extra=(), **options):
    """Rewrite the model file at `path` from `template`: its config edited by `edit` (or the
    raw `config` bytes), its weights entry replaced by `weights`, `extra` entries added."""
    _, document, raw_weights = template
    document = copy.deepcopy(document)
    if edit is not None:
        edit(document)
    entries = [
        (CONFIG, json.dumps(document) if config is None else config),
        (WEIGHTS, raw_weights if weights is None else weights),
        *extra,
    ]
    return write_zip(path, entries, **options)


def refused(path, *phrases, load=load_model):
    """The message of the `ModelFileError` that loading `path` raises; it names the file and
    holds every phrase."""
    with pytest.raises(ModelFileError) as raised:
        load(path)
    message = str(raised.value)
    assert str(path) in message
    for phrase in phrases:
        assert phrase in message, message
    return message


def safetensors_bytes(header, data=b"", length=None):
    """A safetensors file of `header` (a dict, or raw JSON bytes) and `data`; `length`
    overrides the declared header length."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


# -- what the path names -------------------------------------------------------------------
def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.keras"
    path.write_bytes(b"")
    refused(path, "is empty")


def test_a_folder_is_refused(tmp_path, built):
    refused(tmp_path, "is a folder")
    refused(tmp_path, "is a folder", load=built.load_weights)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    path = tmp_path / "pipe.keras"
    os.mkfifo(path)
    refused(path, "not a regular file", "named pipe")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_link_to_an_endless_device_is_refused_not_read(tmp_path, built):
    path = tmp_path / "model.keras"
    path.symlink_to("/dev/zero")
    refused(path, "not a regular file", "character device")
    refused(path, "character device", load=built.load_weights)


def test_a_file_truncated_anywhere_is_refused(saved, built, tmp_path):
    data = saved.read_bytes()
    for length in (1, 4, 30, len(data) // 2, len(data) - 1):
        saved.write_bytes(data[:length])
        refused(saved)
    weights = tmp_path / "w.safetensors"
    built.save_weights(weights)
    data = weights.read_bytes()
    for length in (3, 8, 20, len(data) - 1):
        weights.write_bytes(data[:length])
        refused(weights, "damaged", load=built.load_weights)


# -- pickles and other formats that can run code -------------------------------------------
class Payload:
    """What a hostile pickle holds: unpickling it runs code (it creates `marker`)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def _torch_save(path, payload):
    torch.save({"dense/kernel": torch.zeros(3, 4), "extra": payload}, path)


def _torch_save_legacy(path, payload):
    torch.save({"extra": payload}, path, _use_new_zipfile_serialization=False)


def _pickle(protocol):
    return lambda path, payload: path.write_bytes(pickle.dumps(payload, protocol=protocol))


PICKLE_WRITERS = {
    "torch.save": _torch_save,
    "torch.save, legacy format": _torch_save_legacy,
    "pickle protocol 2": _pickle(2),
    "pickle protocol 5": _pickle(5),
}


@pytest.mark.parametrize("write", PICKLE_WRITERS.values(), ids=PICKLE_WRITERS)
@pytest.mark.parametrize("loader", ["load_model", "load_weights"])
def test_a_pickle_is_refused_and_never_unpickled(write, loader, built, tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "model.pkl"
    write(path, Payload(marker))
    load = load_model if loader == "load_model" else built.load_weights
    with Watch() as watch:
        refused(path, "pickle", "never loads pickles", load=load)
    assert_nothing_ran(watch, path, marker)


def test_hdf5_and_numpy_files_are_refused_by_name(built, tmp_path):
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(512))
    refused(h5, "HDF5")
    refused(h5, "HDF5", load=built.load_weights)
    npy = tmp_path / "weights.npy"
    np.save(npy, np.array([Payload(tmp_path / "x")], dtype=object), allow_pickle=True)
    refused(npy, "NumPy", load=built.load_weights)


# -- the zip container ---------------------------------------------------------------------
def test_a_zip_bomb_is_refused_before_it_is_unpacked(saved, template):
    bomb = bytes(2 * limits.RATIO_FREE_BYTES)  # 2 MiB of zeros deflate to about 2 KiB
    rewrite(saved, template, weights=bomb, compression=zipfile.ZIP_DEFLATED)
    refused(saved, f"'{WEIGHTS}' unpacks from", "zip bomb")


def test_a_config_json_larger_than_the_limit_is_refused_unread(saved, template):
    huge = b" " * (limits.MAX_CONFIG_BYTES + 1)
    rewrite(saved, template, config=huge, compression=zipfile.ZIP_DEFLATED)
    refused(saved, f"unpacks to {limits.MAX_CONFIG_BYTES + 1} bytes, more than the")


def _declare_size(path, name, size):
    """Make the zip directory of `path` declare `size` unpacked bytes for entry `name`."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == name.encode():
            struct.pack_into("<L", data, at + 24, size)
            path.write_bytes(bytes(data))
            return
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"no entry {name}")


@pytest.mark.parametrize("change", [-10, +1000])
def test_declared_sizes_that_differ_from_the_data_are_refused(saved, template, change):
    rewrite(saved, template, compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(saved) as archive:
        config_size = archive.getinfo(CONFIG).file_size
        weights_size = archive.getinfo(WEIGHTS).file_size
    _declare_size(saved, CONFIG, config_size + change)
    refused(saved, "damaged")
    rewrite(saved, template)
    _declare_size(saved, WEIGHTS, weights_size + change)
    refused(saved, "damaged")


def test_a_zip_listing_too_many_entries_is_refused_before_its_directory_is_parsed(
    tmp_path, monkeypatch
):
    path = write_zip(
        tmp_path / "many.keras", [(f"{i}.txt", b"") for i in range(limits.MAX_ENTRIES + 1)]
    )

    def parse(*args, **kwargs):
        raise AssertionError("the zip directory was parsed")

    monkeypatch.setattr(zipfile, "ZipFile", parse)
    refused(path, f"lists {limits.MAX_ENTRIES + 1} entries")


def test_unexpected_entries_are_refused(saved, template):
    rewrite(saved, template, extra=[("metadata.json", b"{}")])
    refused(saved, "unexpected entries 'metadata.json'")


@pytest.mark.parametrize(
    "name", ["../../evil.txt", "/etc/passwd", "weights/../../../evil", "..\\..\\evil", "C:/x"]
)
def test_entry_names_that_leave_the_archive_are_refused(saved, template, name, tmp_path):
    rewrite(saved, template, extra=[(name, b"pwned")])
    before = set(tmp_path.parent.rglob("*"))
    refused(saved, "out of the archive", repr(name))
    assert set(tmp_path.parent.rglob("*")) == before


def test_a_link_entry_is_refused_and_never_followed(saved, template, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(template[1]))  # a valid config, outside the file
    link = zipfile.ZipInfo(CONFIG)
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    write_zip(saved, [(link, str(outside)), (WEIGHTS, template[2])])
    with Watch() as watch:
        refused(saved, f"entry '{CONFIG}' is a symbolic link")
    assert_nothing_ran(watch, saved)


def test_an_entry_given_twice_is_refused(saved, template):
    document = json.dumps(template[1])
    with pytest.warns(UserWarning, match="Duplicate name"):
        write_zip(saved, [(CONFIG, document), (CONFIG, "{}"), (WEIGHTS, template[2])])
    refused(saved, f"several entries named '{CONFIG}'")


def test_an_entry_name_that_is_not_utf8_is_refused(saved, template):
    rewrite(saved, template, extra=[("caf\u00e9.txt", b"")])
    data = saved.read_bytes()
    saved.write_bytes(data.replace("caf\u00e9".encode(), b"caf\xff\xfe"))
    refused(saved, "damaged")


def test_a_model_file_repacked_with_deflate_still_loads(saved, template):
    rewrite(saved, template, compression=zipfile.ZIP_DEFLATED)
    assert load_model(saved).get_config() == template[1]["model"]


# -- config.json ---------------------------------------------------------------------------
def _nested(depth):
    return json.dumps({"format": "netfleet.model", "x": json.loads("[" * depth + "]" * depth)})


HOSTILE_JSON = {
    "nested past the recursion limit": (b"[" * 100_000 + b"]" * 100_000, "nests deeper than 64"),
    "nested past the depth limit": (_nested(limits.MAX_JSON_DEPTH), "nests deeper than 64"),
    "a key given twice": (b'{"format": "netfleet.model", "format": 1}', "'format' is given twice"),
    "not UTF-8": (b'\xff\xfe{"format": 1}', "not valid JSON"),
    "a 5000-digit integer": (b'{"format_version": ' + b"9" * 5000 + b"}", "not valid JSON"),
}


@pytest.mark.parametrize(("config", "problem"), HOSTILE_JSON.values(), ids=HOSTILE_JSON)
def test_hostile_json_is_refused_without_recursion_error(saved, template, config, problem):
    rewrite(saved, template, config=config)
    message = refused(saved, CONFIG, problem)
    assert "Recursion" not in message


# -- the safetensors header ----------------------------------------------------------------
F32_2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
HEADER_LIES = {
    "header length beyond the file": (
        safetensors_bytes({"a": F32_2}, bytes(8), length=10**6),
        "claims 1000000 bytes, but only",
    ),
    "offsets beyond the data": (
        safetensors_bytes(
            {"a": {"dtype": "F32", "shape": [25 * 10**10], "data_offsets": [0, 10**12]}}, bytes(8)
        ),
        "declares 1000000000000 bytes of tensor data, but the file holds 8",
    ),
    "less data declared than held": (
        safetensors_bytes({"a": F32_2}, bytes(16)),
        "declares 8 bytes of tensor data, but the file holds 16",
    ),
    "a range the wrong size for its shape": (
        safetensors_bytes({"a": {**F32_2, "shape": [3]}}, bytes(8)),
        "(12 bytes) but spans 8 bytes",
    ),
    "overlapping tensors": (
        safetensors_bytes(
            {"a": F32_2, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8)
        ),
        "overlaps the tensor before it",
    ),
    "a gap between tensors": (
        safetensors_bytes({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8)),
        "leaves a gap",
    ),
    "an unknown dtype": (
        safetensors_bytes({"a": {**F32_2, "dtype": "PY_OBJECT"}}, bytes(8)),
        "dtype 'PY_OBJECT'",
    ),
    "a negative size": (
        safetensors_bytes({"a": {**F32_2, "shape": [-2]}}, bytes(8)),
        "not a list of sizes >= 0",
    ),
    "a header that is not an object": (safetensors_bytes(b"[]"), "not an object"),
    "a deeply nested header": (
        safetensors_bytes(b"[" * 50_000 + b"]" * 50_000),
        "header nests deeper than 64",
    ),
    "an empty header": (safetensors_bytes(b""), "not valid JSON"),
    "too short for a header": (b"\x01\x02", "too short to hold a header"),
}


@pytest.mark.parametrize(("weights", "problem"), HEADER_LIES.values(), ids=HEADER_LIES)
def test_a_lying_safetensors_header_is_refused(saved, template, built, weights, problem, tmp_path):
    rewrite(saved, template, weights=weights)
    refused(saved, "weights", problem)
    path = tmp_path / "w.safetensors"
    path.write_bytes(weights)
    refused(path, "weights", problem, load=built.load_weights)


def test_a_huge_safetensors_header_is_refused_unread(built, tmp_path):
    path = tmp_path / "w.safetensors"
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", limits.MAX_HEADER_BYTES + 1))
        file.truncate(limits.MAX_HEADER_BYTES + 64)  # sparse: nothing is written
    refused(path, f"more than the {limits.MAX_HEADER_BYTES} bytes", load=built.load_weights)


def test_weights_are_compared_with_the_model_before_any_tensor_is_read(
    built, tmp_path, monkeypatch
):
    other = nf.Sequential([layers.Dense(5, input_shape=(3,), name="dense"), layers.Dense(2)])
    path = tmp_path / "w.safetensors"
    save_weights(other, path)

    def read_tensors(*args):
        raise AssertionError("tensors were read before the header was checked")

    monkeypatch.setattr(tensorfile, "read_tensors", read_tensors)
    refused(path, "do not fit", "(1, 3, 5)", load=built.load_weights)


# -- sizes declared in the config ----------------------------------------------------------
def _units(units):
    return lambda document: document["model"]["layers"][0]["config"].update(units=units)


def test_a_config_declaring_a_billion_units_is_refused_before_allocating(
    saved, template, monkeypatch
):
    rewrite(saved, template, edit=_units(10**9))

    def read_tensors(*args):
        raise AssertionError("tensors were read before the config was checked")

    monkeypatch.setattr(tensorfile, "read_tensors", read_tensors)
    refused(saved, "'dense/kernel'", "(1, 3, 4)", "needs float of shape (1, 3, 1000000000)")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and sets RLIMIT_AS")
def test_a_billion_units_are_refused_under_a_memory_limit_far_below_them(saved, template):
    """The 12 GB kernel that `units=10**9` declares is never allocated: loading stays
    within 512 MiB of what the interpreter holds."""
    rewrite(saved, template, edit=_units(10**9))
    script = textwrap.dedent(
        """
        import resource, sys
        import netfleet
        from netfleet.errors import ModelFileError
        with open("/proc/self/statm") as statm:
            held = int(statm.read().split()[0]) * resource.getpagesize()
        limit = held + 512 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            netfleet.load_model(sys.argv[1])
        except ModelFileError as error:
            print("refused:", error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(saved)],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert "refused:" in result.stdout, result.stderr[-2000:]
    assert "(1, 3, 1000000000)" in result.stdout


def test_shapes_no_tensor_can_have_are_refused_in_one_line(saved, template):
    rewrite(saved, template, edit=_units(10**30))
    message = refused(saved, "cannot build")
    assert "\n" not in message
    assert "frame #" not in message


def test_members_beyond_the_weights_or_the_limit_are_refused(saved, template):
    def members(count):
        def edit(document):
            document["model"]["member_seeds"] = list(range(count))
            document["model"]["member_params"] = [{}] * count
            document["compile"] = None

        return edit

    rewrite(saved, template, edit=members(3))
    refused(saved, "needs float of shape (3, 3, 4)")
    rewrite(saved, template, edit=members(limits.MAX_MEMBERS + 1))
    refused(saved, f"declares {limits.MAX_MEMBERS + 1} members")


def test_a_metric_declaring_more_thresholds_than_the_limit_is_refused_before_it_is_made(
    saved, template
):
    too_many = limits.MAX_METRIC_THRESHOLDS + 1
    rewrite(
        saved,
        template,
        edit=lambda document: document["compile"].update(
            metrics=[{"class_name": "AUC", "config": {"num_thresholds": too_many}}]
        ),
    )
    refused(saved, f"declares {too_many} thresholds")


OPTIMIZER_BOMBS = {
    "a MixedOptimizer part of 10**12 members": {
        "class_name": "MixedOptimizer",
        "config": {
            "name": "mixed",
            "parts": [{"class_name": "SGD", "config": {}, "member_count": 10**12}],
        },
    },
    "10**8 combinations of swept settings": {
        "class_name": "Adam",
        "config": {
            "learning_rate": [0.001] * 100,
            "beta_1": [0.9] * 100,
            "beta_2": [0.999] * 100,
            "epsilon": [1e-7] * 100,
        },
    },
}


@pytest.mark.parametrize("optimizer", OPTIMIZER_BOMBS.values(), ids=OPTIMIZER_BOMBS)
def test_an_optimizer_declaring_more_members_than_the_model_is_refused(saved, template, optimizer):
    rewrite(saved, template, edit=lambda document: document["compile"].update(optimizer=optimizer))
    refused(saved, "optimizer describes", "members, but the model has 1")


def test_too_many_layers_are_refused(saved, template):
    def many(document):
        dropout = {"class_name": "Dropout", "config": {"rate": 0.0, "trainable": True}}
        document["model"]["layers"] += [copy.deepcopy(dropout) for _ in range(limits.MAX_LAYERS)]

    rewrite(saved, template, edit=many)
    refused(saved, f"declares {limits.MAX_LAYERS + 2} layers")


def test_a_graph_deeper_than_the_limit_is_refused_before_it_is_built(tmp_path):
    inputs = nf.Input(shape=(2,), name="input")
    model = nf.Model(inputs, layers.Activation("linear", name="a0")(inputs), name="deep", seed=1)
    path = tmp_path / "deep.keras"
    save_model(model, path)
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read(CONFIG))
    config = document["model"]
    activation = config["layers"][1]
    depth = limits.MAX_GRAPH_DEPTH + 1
    for i in range(1, depth):
        config["layers"].append({**activation, "config": {**activation["config"], "name": f"a{i}"}})
        config["nodes"].append({"layer": f"a{i}", "inbound": [[f"a{i - 1}", 0]]})
    config["outputs"] = [[f"a{depth - 1}", 0]]
    empty = safetensors.torch.save({})
    write_zip(path, [(CONFIG, json.dumps(document)), (WEIGHTS, empty)])
    refused(path, f"chains more than {limits.MAX_GRAPH_DEPTH} layer calls")


# -- CVE-2024-3660: a Lambda layer carrying marshalled bytecode ----------------------------
def _marshalled_lambda(marker):
    code = compile(f"lambda x: open({str(marker)!r}, 'w')", "<payload>", "eval")
    return base64.b64encode(marshal.dumps(code)).decode("ascii")


def _lambda_layer(payload):
    return lambda document: document["model"]["layers"].insert(
        1,
        {
            "class_name": "Lambda",
            "config": {
                "name": "lambda",
                "function": [payload, None, None],
                "function_type": "lambda",
                "arguments": {},
            },
        },
    )


def _lambda_activation(payload):
    def edit(document):
        document["model"]["layers"][0]["config"]["activation"] = {
            "module": "builtins",
            "class_name": "function",
            "config": payload,
            "registered_name": "function",
        }

    return edit


def _source_activation(payload):
    source = "lambda x: __import__('os').system('touch pwned')"
    return lambda document: document["model"]["layers"][0]["config"].update(activation=source)


@pytest.mark.parametrize(
    ("place", "phrase"),
    [
        (_lambda_layer, "Lambda"),
        (_lambda_activation, "activation must be a name"),
        (_source_activation, "Unknown activation"),
    ],
    ids=["Lambda layer", "activation as a function config", "activation as source text"],
)
def test_cve_2024_3660_bytecode_in_a_config_is_never_run(
    saved, template, evil_module, place, phrase
):
    rewrite(saved, template, edit=place(_marshalled_lambda(evil_module)))
    with Watch() as watch:
        refused(saved, phrase)
    assert_nothing_ran(watch, saved, evil_module)


# -- CVE-2025-1550: module and function names in config.json -------------------------------
def _layer(entry):
    return lambda document: document["model"]["layers"].__setitem__(0, entry)


def _dense_setting(key, value):
    return lambda document: document["model"]["layers"][0]["config"].update({key: value})


NAMED_CODE = {
    "module and class_name as a layer": (
        _layer(
            {
                "module": "os",
                "class_name": "system",
                "config": {"command": "touch pwned"},
                "registered_name": "system",
            }
        ),
        "unexpected entries 'module', 'registered_name'",
    ),
    "a dotted builtins.eval layer class": (
        _layer({"class_name": "builtins.eval", "config": {"source": "1"}}),
        "Unknown layer class 'builtins.eval'",
    ),
    "an importable module's function as a layer class": (
        _layer({"class_name": "evil_module.boom", "config": {}}),
        "Unknown layer class 'evil_module.boom'",
    ),
    "an activation naming a module": (
        _dense_setting("activation", {"module": "evil_module", "class_name": "boom", "config": {}}),
        "activation must be a name",
    ),
    "an initializer naming a module": (
        _dense_setting(
            "kernel_initializer", {"module": "evil_module", "class_name": "boom", "config": {}}
        ),
        "Unknown initializer 'boom'",
    ),
    "a nested __class__ config in an initializer": (
        _dense_setting(
            "kernel_initializer",
            {
                "class_name": "VarianceScaling",
                "config": {"scale": {"__class__": "evil_module.boom", "config": {}}},
            },
        ),
        "'scale' argument of VarianceScaling",
    ),
    "an optimizer naming a module": (
        lambda document: document["compile"].update(
            optimizer={"module": "evil_module", "class_name": "boom", "config": {}}
        ),
        "Unknown optimizer 'boom'",
    ),
    "a loss naming a function": (
        lambda document: document["compile"].update(loss="evil_module.boom"),
        "evil_module.boom",
    ),
    "a metric entry naming a module": (
        lambda document: document["compile"].update(
            metrics=[{"class_name": "evil_module.boom", "config": {}}]
        ),
        "metric class 'evil_module.boom'",
    ),
    "a metric entry naming a metric function": (
        lambda document: document["compile"].update(
            metrics=[{"class_name": "binary_accuracy", "config": {}}]
        ),
        "metric class 'binary_accuracy'",
    ),
    "a metric entry with a setting its class lacks": (
        lambda document: document["compile"].update(
            metrics=[{"class_name": "AUC", "config": {"evil_module": "boom"}}]
        ),
        "settings its class does not take",
    ),
    "a model class naming a module": (
        lambda document: document["model"].update(class_name="evil_module.boom"),
        "Unknown model 'evil_module.boom'",
    ),
    "a Keras 3 config": (
        lambda document: document.update(
            module="keras", class_name="Sequential", registered_name=None
        ),
        "unexpected entries 'class_name', 'module', 'registered_name'",
    ),
}


@pytest.mark.parametrize(("edit", "phrase"), NAMED_CODE.values(), ids=NAMED_CODE)
def test_cve_2025_1550_names_in_a_config_are_never_imported_or_called(
    saved, template, evil_module, edit, phrase
):
    rewrite(saved, template, edit=edit)
    with Watch() as watch:
        refused(saved, phrase)
    assert_nothing_ran(watch, saved, evil_module)


# -- CVE-2025-8747 / CVE-2025-9906: safe mode switched off from inside the file ------------
UNSAFE_SWITCHES = {
    "safe_mode in config.json": (
        lambda document: document.update(safe_mode=False),
        "unexpected entries 'safe_mode'",
    ),
    "enable_unsafe_deserialization in the model config": (
        lambda document: document["model"].update(enable_unsafe_deserialization=True),
        "unexpected entries 'enable_unsafe_deserialization'",
    ),
    "safe_mode in a layer config": (
        _dense_setting("safe_mode", False),
        "unexpected keyword arguments: ['safe_mode']",
    ),
    "safe_mode in the compile config": (
        lambda document: document["compile"].update(safe_mode=False),
        "unexpected entries 'safe_mode'",
    ),
}


@pytest.mark.parametrize(("switch", "phrase"), UNSAFE_SWITCHES.values(), ids=UNSAFE_SWITCHES)
def test_cve_2025_8747_and_9906_a_file_cannot_switch_safe_mode_off(
    saved, template, evil_module, switch, phrase
):
    registered = {kind: registry.entries(kind) for kind in registry.KINDS}

    def attack(document):
        switch(document)
        _lambda_layer(_marshalled_lambda(evil_module))(document)

    rewrite(saved, template, edit=attack)
    with Watch() as watch:
        refused(saved)
    assert_nothing_ran(watch, saved, evil_module)
    rewrite(saved, template, edit=switch)
    refused(saved, phrase)  # the switch is reported, never obeyed
    assert {kind: registry.entries(kind) for kind in registry.KINDS} == registered


# -- CVE-2025-12058: references to other files and URLs ------------------------------------
def _references(secret):
    return {
        "a weights file beside the config": (
            lambda document: document.update(weights_file=str(secret)),
            "unexpected entries 'weights_file'",
        ),
        "a vocabulary file in a layer": (
            _dense_setting("vocabulary", str(secret)),
            "unexpected keyword arguments: ['vocabulary']",
        ),
        "a file:// filepath in a layer": (
            _dense_setting("filepath", secret.as_uri()),
            "unexpected keyword arguments: ['filepath']",
        ),
        "a URL for the weights": (
            _dense_setting("weights", "http://127.0.0.1:9/model.weights.h5"),
            "unexpected keyword arguments: ['weights']",
        ),
        "a path as a layer entry": (_layer(str(secret)), "A layer entry must be a JSON object"),
        "a path as an initializer value": (
            _dense_setting(
                "kernel_initializer", {"class_name": "Constant", "config": {"value": str(secret)}}
            ),
            "'value' argument of Constant",
        ),
    }


def test_cve_2025_12058_paths_and_urls_in_a_config_are_never_opened(saved, template, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("vocabulary")
    for name, (edit, phrase) in _references(secret).items():
        rewrite(saved, template, edit=edit)
        with Watch() as watch:
            message = refused(saved, phrase)
        assert_nothing_ran(watch, saved)
        assert str(secret) not in watch.opened(), name
        assert message


# -- path traversal through layer names ----------------------------------------------------
def test_layer_names_that_look_like_paths_stay_plain_names(tmp_path, monkeypatch):
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    names = ["../../evil", "/tmp/evil", "..\\..\\evil"]
    model = nf.Sequential(
        [layers.Dense(2, input_shape=(3,), name=names[0]), layers.Dense(2, name=names[1])]
        + [layers.Dense(1, name=names[2])]
    )
    path, weights = folder / "model.keras", folder / "w.safetensors"
    save_model(model, path)
    save_weights(model, weights)
    with Watch() as watch:
        loaded = load_model(path)
        loaded.load_weights(weights)
    assert [layer.name for layer in loaded.layers] == names
    assert watch.opened() <= {str(path), str(weights)}
    assert set(tmp_path.rglob("*")) == {tmp_path / "a", folder, path, weights}
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [CONFIG, WEIGHTS]
    x = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_layer_name_that_is_not_a_string_is_refused(saved, template):
    rewrite(saved, template, edit=_dense_setting("name", {"__class__": "os.system"}))
    refused(saved, "A layer's name must be a string")


def test_the_watch_sees_what_a_hostile_file_would_do(evil_module, tmp_path):
    """The instrument of the tests above: it records opens, imports and unpickling."""
    path = tmp_path / "payload.pkl"
    path.write_bytes(pickle.dumps(Payload(tmp_path / "unpickled")))
    with Watch() as watch:
        pickle.loads(path.read_bytes())
        __import__("evil_module")
    events = {event for event, _ in watch.code_events()}
    assert {"pickle.find_class", "exec", "import"} <= events
    assert str(path) in watch.opened()
    assert evil_module.exists()
