"""Keras 3 `.keras` files written by Keras itself (tests/saving/fixtures, made by
make_keras_fixtures.py) load into netfleet and predict as Keras did; anything that carries
code, or that netfleet does not have, is refused with a `ModelFileError` naming the file."""

import io
import json
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import netfleet as nf
from netfleet.errors import ModelFileError
from netfleet.optimizers import SGD, RMSprop
from netfleet.saving import load_keras_model, load_model, save_model

h5py = pytest.importorskip("h5py")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODELS = ["mlp", "cnn", "two_inputs", "sequence"]


@pytest.fixture(autouse=True)
def _fresh_session():
    nf.utils.set_random_seed(5)
    nf.backend.clear_session()


def inputs_and_predictions(name):
    """The inputs a fixture was evaluated on and Keras' predictions for them."""
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as saved:
        x = saved["x"] if "x" in saved else [saved["wide"], saved["deep"]]
        return x, saved["predictions"]


def rewritten(tmp_path, name, edit_config=None, edit_weights=None, extra=None, metadata=None):
    """A copy of fixture `name` with its config.json, model.weights.h5 or metadata.json
    changed (and `extra` entries added), in `tmp_path`."""
    with zipfile.ZipFile(FIXTURES / f"{name}.keras") as source:
        entries = {info.filename: source.read(info) for info in source.infolist()}
    if edit_config is not None:
        config = json.loads(entries["config.json"])
        edit_config(config)
        entries["config.json"] = json.dumps(config).encode()
    if edit_weights is not None:
        buffer = io.BytesIO(entries["model.weights.h5"])
        with h5py.File(buffer, "r+") as h5:
            edit_weights(h5)
        entries["model.weights.h5"] = buffer.getvalue()
    if metadata is not None:
        entries["metadata.json"] = json.dumps(metadata).encode()
    path = tmp_path / f"{name}.keras"
    with zipfile.ZipFile(path, "w") as target:
        for entry, data in {**entries, **(extra or {})}.items():
            target.writestr(entry, data)
    return path


def layer_config(config, class_name):
    """The config of the first layer of `class_name` in a Keras model config."""
    return next(e for e in config["config"]["layers"] if e["class_name"] == class_name)


def refused(path, *fragments, load=load_model):
    with pytest.raises(ModelFileError) as raised:
        load(path)
    message = str(raised.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


# -- what loads ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_a_keras_file_loads_and_predicts_as_keras_did(name):
    x, expected = inputs_and_predictions(name)
    model = load_model(FIXTURES / f"{name}.keras")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_the_public_entry_points_load_keras_files():
    x, expected = inputs_and_predictions("cnn")
    for load in (nf.load_model, nf.models.load_model, load_keras_model):
        model = load(FIXTURES / "cnn.keras")
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_the_layers_and_names_are_keras_own():
    model = load_model(FIXTURES / "two_inputs.keras")
    assert isinstance(model, nf.Model)
    assert model.input_names == ["wide", "deep"]
    assert model.output_names == ["price"]
    calls = [node.layer.name for node in model.nodes]
    assert calls == ["hidden", "dense_4", "dense_4", "concatenate", "price"]  # one layer, twice
    kinds = [type(layer).__name__ for layer in load_model(FIXTURES / "cnn.keras").layers]
    assert kinds == [
        "Rescaling",
        "Conv2D",
        "BatchNormalization",
        "MaxPooling2D",
        "Conv2D",
        "Activation",
        "AveragePooling2D",
        "Flatten",
        "Dropout",
        "Dense",
    ]


def test_keras_weights_keep_their_layout_with_the_member_axis_in_front():
    model = load_model(FIXTURES / "cnn.keras")
    with zipfile.ZipFile(FIXTURES / "cnn.keras") as archive:
        h5 = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    with h5:
        conv = h5["layers/conv2d/vars"]
        np.testing.assert_array_equal(model.layers[1].get_weights()[0], conv["0"][()])
        assert model.layers[1].kernel.shape == (1, 3, 3, 1, 4)  # (M, kh, kw, in, filters)
        norm = model.layers[2]
        for index, name in enumerate(["gamma", "beta", "moving_mean", "moving_variance"]):
            stored = h5[f"layers/batch_normalization/vars/{index}"][()]
            np.testing.assert_array_equal(getattr(norm, name)[0].detach().numpy(), stored)
        assert not np.allclose(norm.moving_mean.detach().numpy(), 0)  # trained statistics


def test_the_compile_settings_come_along():
    model = load_model(FIXTURES / "cnn.keras")
    optimizer = model.compiled.optimizer
    assert isinstance(optimizer, SGD)
    assert optimizer.get_config()["momentum"] == pytest.approx(0.9)
    assert optimizer.get_config()["learning_rate"] == pytest.approx(0.05)
    assert model.compiled.loss.name == "sparse_categorical_crossentropy"
    functional = load_model(FIXTURES / "two_inputs.keras")
    assert isinstance(functional.compiled.optimizer, RMSprop)
    assert load_model(FIXTURES / "mlp.keras", compile=False).compiled is None


def test_a_loaded_keras_model_trains_saves_and_reloads_in_netfleet(tmp_path):
    x, _ = inputs_and_predictions("cnn")
    y = np.arange(len(x)) % 3
    model = load_model(FIXTURES / "cnn.keras")
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    save_model(model, tmp_path / "netfleet.keras")
    again = load_model(tmp_path / "netfleet.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_loaded_keras_model_becomes_a_fleet():
    x, expected = inputs_and_predictions("mlp")
    model = load_model(FIXTURES / "mlp.keras")
    model.compile(optimizer=SGD(learning_rate=[0.1, 0.01]), loss="categorical_crossentropy")
    predictions = model.predict(x, verbose=0)
    assert predictions.shape == (2, *expected.shape)
    for member in predictions:
        np.testing.assert_allclose(member, expected, rtol=1e-5, atol=1e-6)


# -- compile settings netfleet lacks -------------------------------------------------------
def test_an_unknown_optimizer_loads_the_model_uncompiled_with_a_warning(tmp_path):
    def ftrl(config):
        config["compile_config"]["optimizer"]["class_name"] = "Ftrl"

    path = rewritten(tmp_path, "mlp", edit_config=ftrl)
    with pytest.warns(UserWarning, match="loaded uncompiled: its optimizer 'Ftrl'"):
        model = load_model(path)
    assert model.compiled is None
    x, expected = inputs_and_predictions("mlp")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_a_loss_with_settings_netfleet_lacks_loads_uncompiled(tmp_path):
    def from_logits(config):
        config["compile_config"]["loss"] = {
            "module": "keras.losses",
            "class_name": "CategoricalCrossentropy",
            "config": {"name": "categorical_crossentropy", "from_logits": True},
            "registered_name": None,
        }

    with pytest.warns(UserWarning, match="from_logits"):
        model = load_model(rewritten(tmp_path, "mlp", edit_config=from_logits))
    assert model.compiled is None


def test_a_loss_object_with_keras_defaults_compiles(tmp_path):
    def loss_object(config):
        config["compile_config"]["loss"] = {
            "module": "keras.losses",
            "class_name": "CategoricalCrossentropy",
            "config": {"name": "categorical_crossentropy", "reduction": "sum_over_batch_size"},
            "registered_name": None,
        }

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = load_model(rewritten(tmp_path, "mlp", edit_config=loss_object))
    assert model.compiled.loss.name == "categorical_crossentropy"


def test_weighted_metrics_netfleet_has_compile(tmp_path):
    def weighted(config):
        config["compile_config"]["weighted_metrics"] = [
            "accuracy",
            {"module": "keras.metrics", "class_name": "MeanSquaredError", "config": {}},
        ]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = load_model(rewritten(tmp_path, "mlp", edit_config=weighted))
    assert model.compiled.weighted_metric_ids == ["accuracy", "MeanSquaredError"]


def test_a_weighted_metric_netfleet_lacks_loads_uncompiled(tmp_path):
    def unknown(config):
        config["compile_config"]["weighted_metrics"] = ["no_such_metric"]

    with pytest.warns(UserWarning, match="loaded uncompiled: Unknown metric 'no_such_metric'"):
        model = load_model(rewritten(tmp_path, "mlp", edit_config=unknown))
    assert model.compiled is None


# -- code is refused -----------------------------------------------------------------------
def test_a_lambda_written_by_keras_is_refused_as_code():
    refused(FIXTURES / "lambda.keras", "holds Python code", "never runs code")


def test_a_function_payload_anywhere_is_refused(tmp_path):
    def payload(config):
        layer_config(config, "Dense")["config"]["activation"] = {
            "class_name": "__lambda__",
            "config": {"code": "4wEAAAAAAAAA", "defaults": None, "closure": None},
        }

    refused(rewritten(tmp_path, "mlp", edit_config=payload), "holds Python code")


def test_a_class_from_another_module_is_refused(tmp_path):
    def foreign(config):
        layer_config(config, "Dense")["module"] = "my_package.layers"

    refused(rewritten(tmp_path, "mlp", edit_config=foreign), "'my_package.layers'")


def test_a_custom_registered_class_is_refused(tmp_path):
    def custom(config):
        entry = layer_config(config, "Dense")
        entry["class_name"], entry["registered_name"] = "MyDense", "Custom>MyDense"

    refused(rewritten(tmp_path, "mlp", edit_config=custom), "custom class 'Custom>MyDense'")


def test_a_keras_layer_netfleet_does_not_load_is_refused_by_name(tmp_path):
    def lstm(config):
        layer_config(config, "Dense")["class_name"] = "LSTM"

    refused(rewritten(tmp_path, "mlp", edit_config=lstm), "of class 'LSTM'", "Conv2D")


@pytest.mark.parametrize(
    ("setting", "value", "fragment"),
    [
        ("kernel_regularizer", {"class_name": "L2", "config": {"l2": 0.01}}, "no such feature"),
        ("data_format", "channels_first", "channels-last"),
        ("lookahead", 3, "'lookahead', unknown to netfleet"),
        ("dtype", "mixed_float16", "float32"),
    ],
)
def test_a_setting_netfleet_does_not_have_is_refused(tmp_path, setting, value, fragment):
    def edit(config):
        entry = layer_config(config, "Dense" if setting != "data_format" else "Flatten")
        entry["config"][setting] = value

    refused(rewritten(tmp_path, "cnn", edit_config=edit), fragment)


def test_a_channels_first_convolution_is_refused(tmp_path):
    def channels_first(config):
        layer_config(config, "Conv2D")["config"]["data_format"] = "channels_first"

    refused(rewritten(tmp_path, "cnn", edit_config=channels_first), "data_format")


def test_a_keras_2_file_is_refused(tmp_path):
    metadata = {"keras_version": "2.15.0", "date_saved": "2024-01-01@00:00:00"}
    refused(rewritten(tmp_path, "mlp", metadata=metadata), "Keras '2.15.0'", "Keras 3")


def test_an_archive_with_other_entries_is_refused(tmp_path):
    path = rewritten(tmp_path, "mlp", extra={"assets/vocabulary.txt": b"a\nb\n"})
    refused(path, "'assets/vocabulary.txt'")


# -- the HDF5 weights ----------------------------------------------------------------------
def test_weights_of_another_shape_are_refused(tmp_path):
    def wider(config):
        layer_config(config, "Dense")["config"]["units"] = 17

    refused(rewritten(tmp_path, "mlp", edit_config=wider), "/layers/dense/vars/0", "(8, 16)")


def test_a_missing_weight_is_refused(tmp_path):
    def drop(h5):
        del h5["layers/dense_1/vars/1"]

    refused(rewritten(tmp_path, "mlp", edit_weights=drop), "1 weights", "kernel, bias")


@pytest.mark.parametrize("link", ["external", "soft"])
def test_links_in_the_weights_are_never_followed(tmp_path, link):
    target = tmp_path / "elsewhere.h5"
    with h5py.File(target, "w") as other:
        other["kernel"] = np.zeros((8, 16), np.float32)

    def relink(h5):
        del h5["layers/dense/vars/0"]
        if link == "external":
            h5["layers/dense/vars/0"] = h5py.ExternalLink(str(target), "kernel")
        else:
            h5["layers/dense/vars/0"] = h5py.SoftLink("/layers/dense/vars/1")

    message = refused(rewritten(tmp_path, "mlp", edit_weights=relink), "never follows links")
    assert "Link" in message


def test_a_filter_outside_hdf5s_own_is_refused(tmp_path):
    def scale_offset(h5):
        values = h5["layers/dense/vars/0"][()]
        del h5["layers/dense/vars/0"]
        h5.create_dataset("layers/dense/vars/0", data=values, scaleoffset=3)

    refused(rewritten(tmp_path, "mlp", edit_weights=scale_offset), "HDF5 filter 6")


def test_a_dataset_that_declares_more_than_it_stores_is_refused(tmp_path):
    def huge(config):
        layer_config(config, "Dense")["config"]["units"] = 40_000

    def unwritten(h5):
        del h5["layers/dense/vars/0"], h5["layers/dense/vars/1"]
        h5.create_dataset("layers/dense/vars/0", shape=(8, 40_000), dtype="f4", chunks=(8, 1000))
        h5.create_dataset("layers/dense/vars/1", shape=(40_000,), dtype="f4")
        del h5["layers/dense_1/vars/0"]
        h5.create_dataset("layers/dense_1/vars/0", shape=(40_000, 8), dtype="f4")

    path = rewritten(tmp_path, "mlp", edit_config=huge, edit_weights=unwritten)
    refused(path, "declare 1280000 bytes", "but store 0")


def test_damaged_weights_are_refused(tmp_path):
    with zipfile.ZipFile(FIXTURES / "mlp.keras") as source:
        entries = {info.filename: source.read(info) for info in source.infolist()}
    entries["model.weights.h5"] = b"\x89HDF\r\n\x1a\n" + b"\x00" * 200
    path = tmp_path / "mlp.keras"
    with zipfile.ZipFile(path, "w") as target:
        for name, data in entries.items():
            target.writestr(name, data)
    refused(path, "damaged")


def test_without_h5py_the_error_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'pip install "netfleet\[keras\]"'):
        load_model(FIXTURES / "mlp.keras")


def test_the_fixtures_stay_small():
    for path in FIXTURES.iterdir():
        assert path.stat().st_size < 200_000, path.name
