"""save_model / load_model / save_weights / load_weights: exact round trips, training that
resumes identically, atomic writes, and clear errors for damaged or foreign files."""

import json
import os
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch

import netfleet as nf
from netfleet import layers
from netfleet.datasets import banknotes, wines
from netfleet.errors import ModelFileError, NotBuiltError
from netfleet.fleet import stack
from netfleet.models.cloning import clone_model
from netfleet.optimizers import SGD, Adam, Nadam
from netfleet.saving import files, load_model, load_weights, save_model, save_weights
from netfleet.utils import to_categorical

WEIGHTS = files.WEIGHTS_ENTRY


@pytest.fixture(autouse=True)
def _fresh_session():
    nf.utils.set_random_seed(7)
    nf.backend.clear_session()


def _standardized(x):
    return ((x - x.mean(0)) / x.std(0)).astype(np.float32)


# -- the models ----------------------------------------------------------------------------
def mnist_shaped():
    """The lecture's MNIST network (784 → 32 relu → 10 softmax) on random images."""
    rng = np.random.default_rng(0)
    x = rng.random((128, 784), dtype=np.float32)
    y = to_categorical(rng.integers(0, 10, 128), 10)
    model = nf.Sequential(
        [
            layers.Dense(32, activation="relu", input_shape=(784,)),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model, x, y


def wines_functional():
    """A functional 13 → 8 → 5 → 2 → 3 classifier of the wines data, trained with Adam."""
    x, y = wines.load_data()
    inputs = nf.Input(shape=(13,))
    hidden = layers.Dense(8, activation="relu")(inputs)
    hidden = layers.Dense(5, activation="relu")(hidden)
    hidden = layers.Dense(2, activation="relu")(hidden)
    outputs = layers.Dense(3, activation="softmax")(hidden)
    model = nf.Model(inputs, outputs, name="wines")
    model.compile(
        optimizer=Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model, _standardized(x), y - 1


def banknotes_fleet():
    """Two members of a banknotes classifier, one per learning rate."""
    x, y = banknotes.load_data()
    x, y = x[::4], y[::4]  # 343 notes of both classes: quick to train
    model = nf.Sequential(
        [
            layers.Dense(8, activation="relu", input_shape=(4,)),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=SGD(learning_rate=[0.01, 0.1]), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model, _standardized(x), y


def stacked_fleet():
    """Two separately seeded models with momentum, stacked into one fleet."""
    x, y = banknotes.load_data()
    x, y = x[::4], y[::4]
    models = []
    for seed, rate in ((1, 0.05), (2, 0.2)):
        model = nf.Sequential(
            [layers.Dense(6, activation="tanh", input_shape=(4,)), layers.Dense(1, "sigmoid")],
            seed=seed,
        )
        model.compile(optimizer=SGD(learning_rate=rate, momentum=0.9), loss="binary_crossentropy")
        models.append(model)
    return stack(models, member_params=[{"run": "a"}, {"run": "b"}]), _standardized(x), y


def dropout_flatten():
    """Images of 4 × 4 flattened, with dropout, trained with Nadam."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4, 4)).astype(np.float32)
    y = (x.sum((1, 2)) > 0).astype(np.int64)
    model = nf.Sequential(
        [
            layers.Flatten(input_shape=(4, 4)),
            layers.Dense(16, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer=Nadam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, x, y


BUILDERS = [mnist_shaped, wines_functional, banknotes_fleet, stacked_fleet, dropout_flatten]


# -- comparisons ---------------------------------------------------------------------------
def summary_lines(model):
    lines = []
    model.summary(print_fn=lines.append)
    return lines


def assert_weights_equal(a, b):
    weights_a, weights_b = a.get_weights(), b.get_weights()
    assert len(weights_a) == len(weights_b)
    for wa, wb in zip(weights_a, weights_b):
        assert wa.shape == wb.shape
        np.testing.assert_array_equal(wa, wb)


def assert_same_model(original, loaded, x):
    assert type(loaded) is type(original)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), original.predict(x, verbose=0))
    assert_weights_equal(original, loaded)
    assert summary_lines(loaded) == summary_lines(original)
    assert loaded.get_config() == original.get_config()
    assert loaded.compiled.get_config() == original.compiled.get_config()
    assert loaded.member_seeds == original.member_seeds
    assert loaded.member_params == original.member_params


def fit(model, x, y):
    return model.fit(x, y, epochs=1, batch_size=32, verbose=0)


# -- round trips ---------------------------------------------------------------------------
@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_round_trip_is_exact_and_training_resumes_identically(build, tmp_path):
    model, x, y = build()
    fit(model, x, y)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = nf.load_model(path)
    assert_same_model(model, loaded, x)
    fit(model, x, y)
    fit(loaded, x, y)
    assert_weights_equal(model, loaded)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_fleet_keeps_its_members(tmp_path):
    model, x, y = banknotes_fleet()
    fit(model, x, y)
    save_model(model, tmp_path / "fleet.h5")
    loaded = load_model(tmp_path / "fleet.h5")
    assert loaded.num_members == 2
    assert loaded.member_params == [{"learning_rate": 0.01}, {"learning_rate": 0.1}]
    assert loaded.predict(x, verbose=0).shape == (2, len(x), 1)
    assert loaded.compiled.optimizer.learning_rate == [0.01, 0.1]


def test_a_model_saved_before_training_trains_like_the_original(tmp_path):
    model, x, y = wines_functional()
    save_model(model, tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    fit(model, x, y)
    fit(loaded, x, y)
    assert_weights_equal(model, loaded)


def test_an_uncompiled_model_loads_uncompiled(tmp_path):
    model = nf.Sequential([layers.Dense(3, input_shape=(2,))])
    save_model(model, tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    assert loaded.compiled is None
    x = np.ones((4, 2), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_compile_false_gives_the_weights_without_the_training_setup(tmp_path):
    model, x, y = mnist_shaped()
    fit(model, x, y)
    save_model(model, tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras", compile=False)
    assert loaded.compiled is None
    assert_weights_equal(model, loaded)


def test_loading_does_not_consume_the_global_random_stream(tmp_path):
    model, _, _ = mnist_shaped()
    save_model(model, tmp_path / "model.keras")
    nf.utils.set_random_seed(3)
    expected = nf.Sequential([layers.Dense(4, input_shape=(3,))]).get_weights()
    nf.utils.set_random_seed(3)
    load_model(tmp_path / "model.keras")
    after_load = nf.Sequential([layers.Dense(4, input_shape=(3,))]).get_weights()
    assert_weights_equal_arrays(expected, after_load)


def assert_weights_equal_arrays(a, b):
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


# -- what the file holds -------------------------------------------------------------------
def test_the_file_is_a_zip_of_a_json_config_and_safetensors_weights(tmp_path):
    model, x, y = banknotes_fleet()
    fit(model, x, y)
    path = tmp_path / "model.keras"
    save_model(model, path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["config.json", WEIGHTS]
        document = json.loads(archive.read("config.json"))
        tensors = safetensors.torch.load(archive.read(WEIGHTS))
    assert document["format"] == "netfleet.model"
    assert document["format_version"] == 1
    assert document["netfleet_version"] == nf.__version__
    assert document["model"]["class_name"] == "Sequential"
    assert document["compile"]["loss"] == "binary_crossentropy"
    assert tensors["dense/kernel"].shape == (2, 4, 8)
    assert tensors["dense_1/bias"].shape == (2, 1)
    steps = -(-len(x) // 32)
    assert tensors["optimizer/iterations"].tolist() == [[steps], [steps]]
    assert tensors["generators/shuffle"].dtype == torch.uint8
    assert tensors["generators/shuffle"].shape[0] == 2


def test_saving_the_same_model_twice_gives_the_same_bytes(tmp_path):
    model, x, y = wines_functional()
    fit(model, x, y)
    save_model(model, tmp_path / "a.keras")
    save_model(model, tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()


# -- writing safely ------------------------------------------------------------------------
def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    model, x, y = mnist_shaped()
    path = tmp_path / "model.keras"
    save_model(model, path)
    before = path.read_bytes()
    fit(model, x, y)

    def fail_midway(*args, **kwargs):
        assert any(name.endswith(".tmp") for name in os.listdir(tmp_path))
        raise RuntimeError("disk full")

    monkeypatch.setattr(files, "_serialize", fail_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.keras"]
    with pytest.raises(RuntimeError, match="disk full"):
        save_weights(model, tmp_path / "new.safetensors")
    assert os.listdir(tmp_path) == ["model.keras"]


def test_overwrite_false_refuses_to_replace_a_file(tmp_path):
    model, _, _ = mnist_shaped()
    path = tmp_path / "model.keras"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True") as raised:
        model.save(path, overwrite=False)
    assert str(path) in str(raised.value)
    with pytest.raises(FileExistsError):
        model.save_weights(path, overwrite=False)
    assert path.read_bytes() == b"precious"
    model.save(tmp_path / "other.keras", overwrite=False)
    assert load_model(tmp_path / "other.keras").count_params() == model.count_params()


def test_saving_into_a_missing_folder_names_it(tmp_path):
    model, _, _ = mnist_shaped()
    with pytest.raises(FileNotFoundError, match="does not exist") as raised:
        save_model(model, tmp_path / "nowhere" / "model.keras")
    assert "nowhere" in str(raised.value)


# -- damaged and foreign files -------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    model, x, y = mnist_shaped()
    fit(model, x, y)
    path = tmp_path / "model.keras"
    save_model(model, path)
    return path


def rewrite(path, edit_config=None, edit_tensors=None):
    """Rewrite the model file at `path` after editing its config or tensors in place."""
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("config.json"))
        tensors = safetensors.torch.load(archive.read(WEIGHTS))
    if edit_config:
        edit_config(document)
    if edit_tensors:
        edit_tensors(tensors)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(document))
        archive.writestr(WEIGHTS, safetensors.torch.save(tensors))


def load_error(path):
    with pytest.raises(ModelFileError) as raised:
        load_model(path)
    message = str(raised.value)
    assert str(path) in message
    return message


def test_a_missing_file_raises_file_not_found_with_the_path(tmp_path):
    with pytest.raises(FileNotFoundError) as raised:
        load_model(tmp_path / "absent.keras")
    assert "absent.keras" in str(raised.value)
    model, _, _ = mnist_shaped()
    with pytest.raises(FileNotFoundError, match="absent.safetensors"):
        model.load_weights(tmp_path / "absent.safetensors")


def test_a_truncated_file_is_reported_as_damaged(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    assert "damaged" in load_error(saved)


def test_random_bytes_are_not_a_model_file(saved):
    saved.write_bytes(np.random.default_rng(0).bytes(4096))
    assert "not a netfleet model file" in load_error(saved)


def test_a_weights_file_given_to_load_model_points_to_load_weights(saved, tmp_path):
    model = load_model(saved)
    save_weights(model, tmp_path / "w.safetensors")
    assert "load_weights" in load_error(tmp_path / "w.safetensors")


def test_a_zip_without_our_config_is_foreign(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "no config.json" in load_error(path)


def test_a_config_naming_os_system_as_layer_class_runs_nothing(saved, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args))

    def evil(document):
        document["model"]["layers"][0] = {"class_name": "os.system", "config": {"cmd": "echo"}}

    rewrite(saved, edit_config=evil)
    message = load_error(saved)
    assert "os.system" in message
    assert "Unknown layer class" in message
    assert calls == []


def test_a_config_whose_shapes_differ_from_the_weights_is_reported(saved):
    def wider(document):
        document["model"]["layers"][0]["config"]["units"] = 33

    rewrite(saved, edit_config=wider)
    message = load_error(saved)
    assert "'dense/kernel'" in message
    assert "(1, 784, 32)" in message
    assert "(1, 784, 33)" in message


def test_missing_and_unexpected_weights_are_listed(saved):
    def edit(tensors):
        del tensors["dense_1/bias"]
        tensors["dense_9/kernel"] = torch.zeros(1, 2)

    rewrite(saved, edit_tensors=edit)
    message = load_error(saved)
    assert "missing weight 'dense_1/bias'" in message
    assert "unexpected weight 'dense_9/kernel'" in message


def test_optimizer_state_of_the_wrong_shape_is_reported(saved):
    def edit(tensors):
        tensors["optimizer/velocity"] = torch.zeros(1, 3)

    rewrite(saved, edit_tensors=edit)
    assert "'optimizer/velocity' has shape (1, 3)" in load_error(saved)


@pytest.mark.parametrize(
    ("version", "expected"), [(2, "newer netfleet"), ("1", "format version '1'")]
)
def test_an_unknown_format_version_is_reported(saved, version, expected):
    rewrite(saved, edit_config=lambda document: document.update(format_version=version))
    assert expected in load_error(saved)


def test_invalid_json_and_damaged_weights_are_reported(saved, tmp_path):
    with zipfile.ZipFile(saved) as archive:
        weights = archive.read(WEIGHTS)
        config = archive.read("config.json")
    bad_json = tmp_path / "bad_json.keras"
    with zipfile.ZipFile(bad_json, "w") as archive:
        archive.writestr("config.json", "{not json")
        archive.writestr(WEIGHTS, weights)
    assert "not valid JSON" in load_error(bad_json)
    bad_weights = tmp_path / "bad_weights.keras"
    with zipfile.ZipFile(bad_weights, "w") as archive:
        archive.writestr("config.json", config)
        archive.writestr(WEIGHTS, weights[:100])
    assert "weights" in load_error(bad_weights)


def test_a_malformed_config_is_reported(saved):
    rewrite(saved, edit_config=lambda document: document["model"].pop("layers"))
    assert "'layers'" in load_error(saved)


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)


# -- weights only --------------------------------------------------------------------------
def test_weights_round_trip_into_a_model_of_the_same_architecture(tmp_path):
    model, x, y = wines_functional()
    fit(model, x, y)
    path = tmp_path / "model.weights.safetensors"
    model.save_weights(path)
    tensors = safetensors.torch.load_file(path)
    assert sorted(tensors) == sorted(
        f"{layer.name}/{name}" for layer in model.layers for name in layer.weight_names
    )
    other = clone_model(model)
    other.load_weights(path)
    assert_weights_equal(model, other)
    other.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_fleet_weights_round_trip_and_one_member_fills_every_member(tmp_path):
    fleet, x, y = banknotes_fleet()
    fit(fleet, x, y)
    save_weights(fleet, tmp_path / "fleet.safetensors")
    copy = clone_model(fleet)
    copy.compile(optimizer=SGD(learning_rate=[0.01, 0.1]), loss="binary_crossentropy")
    load_weights(copy, tmp_path / "fleet.safetensors")
    np.testing.assert_array_equal(copy.predict(x, verbose=0), fleet.predict(x, verbose=0))

    single = clone_model(fleet)
    single.compile(optimizer="sgd", loss="binary_crossentropy")
    save_weights(single, tmp_path / "single.safetensors")
    load_weights(copy, tmp_path / "single.safetensors")
    both = copy.predict(x, verbose=0)
    # identical members, one batched product: equal to float rounding (members sit at
    # different addresses, which the GEMM kernel may block differently)
    np.testing.assert_allclose(both[1], both[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(both[0], single.predict(x, verbose=0), rtol=1e-6, atol=1e-7)


def test_weights_of_another_architecture_are_refused_with_names_and_shapes(tmp_path):
    model, _, _ = mnist_shaped()
    save_weights(model, tmp_path / "w.safetensors")
    other = nf.Sequential(
        [layers.Dense(16, input_shape=(784,), name="dense"), layers.Dense(10, name="head")]
    )
    with pytest.raises(ModelFileError) as raised:
        other.load_weights(tmp_path / "w.safetensors")
    message = str(raised.value)
    assert "w.safetensors" in message
    assert "(1, 784, 16)" in message
    assert "missing weight 'head/kernel'" in message
    assert "unexpected weight 'dense_1/kernel'" in message


def test_a_fleet_weights_file_does_not_fit_a_single_model(tmp_path):
    fleet, x, y = banknotes_fleet()
    fit(fleet, x, y)
    save_weights(fleet, tmp_path / "fleet.safetensors")
    with pytest.raises(ModelFileError, match=r"\(1, 4, 8\)"):
        clone_model(fleet).load_weights(tmp_path / "fleet.safetensors")


def test_load_weights_reads_a_model_file_too(saved):
    model = load_model(saved)
    copy = clone_model(model)
    copy.load_weights(saved)
    assert_weights_equal(model, copy)


def test_damaged_weights_file_is_reported(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x00" * 64)
    model, _, _ = mnist_shaped()
    with pytest.raises(ModelFileError, match="damaged"):
        model.load_weights(path)


def test_an_unbuilt_model_has_no_weights_to_save(tmp_path):
    model = nf.Sequential([layers.Dense(3)])
    with pytest.raises(NotBuiltError):
        model.save_weights(tmp_path / "w.safetensors")
    save_model(model, tmp_path / "model.keras")
    assert not load_model(tmp_path / "model.keras").built
