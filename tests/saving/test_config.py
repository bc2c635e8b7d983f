"""Model and compile configs: JSON-able, complete enough to rebuild the model, and built only
from netfleet's own layer classes."""

import json

import numpy as np
import pytest

import netfleet as nf
from netfleet import layers
from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.fleet import stack
from netfleet.models.config import model_config, model_from_config
from netfleet.optimizers import SGD, Adam
from netfleet.saving.config import compile_config, compile_from_config


@pytest.fixture(autouse=True)
def _fresh_session():
    nf.utils.set_random_seed(11)
    nf.backend.clear_session()


def wines_graph():
    inputs = nf.Input(shape=(13,), name="measurements")
    hidden = layers.Dense(8, activation="relu")(inputs)
    hidden = layers.Dense(5, activation="relu")(hidden)
    hidden = layers.Dense(2, activation="relu")(hidden)
    outputs = layers.Dense(3, activation="softmax")(hidden)
    return nf.Model(inputs, outputs, name="wines", seed=5)


def summary_lines(model):
    lines = []
    model.summary(print_fn=lines.append)
    return lines


def rebuilt(model):
    """The model rebuilt from its config after a trip through JSON text."""
    return model_from_config(json.loads(json.dumps(model_config(model))))


def test_sequential_config_names_its_input_and_layers():
    model = nf.Sequential(
        [layers.Dense(32, activation="relu", input_shape=(784,)), layers.Dense(10, "softmax")],
        name="mnist",
        seed=3,
    )
    config = model_config(model)
    assert config["class_name"] == "Sequential"
    assert (config["name"], config["seed"]) == ("mnist", 3)
    assert config["member_seeds"] == [3]
    assert config["member_params"] == [{}]
    assert config["input_layer"]["class_name"] == "InputLayer"
    assert config["input_layer"]["config"]["shape"] == [784]
    assert [entry["class_name"] for entry in config["layers"]] == ["Dense", "Dense"]
    assert config["layers"][1]["config"]["units"] == 10
    assert model.get_config() == config


def test_functional_config_records_the_graph_by_layer_names():
    config = model_config(wines_graph())
    assert config["class_name"] == "Model"
    assert config["inputs"] == [["measurements", 0]]
    assert config["outputs"] == [["dense_3", 0]]
    assert config["nodes"] == [
        {"layer": "dense", "inbound": [["measurements", 0]]},
        {"layer": "dense_1", "inbound": [["dense", 0]]},
        {"layer": "dense_2", "inbound": [["dense_1", 0]]},
        {"layer": "dense_3", "inbound": [["dense_2", 0]]},
    ]
    assert [entry["class_name"] for entry in config["layers"]] == ["InputLayer"] + ["Dense"] * 4


@pytest.mark.parametrize(
    "build",
    [
        wines_graph,
        lambda: nf.Sequential(
            [
                layers.Flatten(input_shape=(4, 4)),
                layers.Dense(16, activation="relu"),
                layers.Dropout(0.25, seed=1),
                layers.Activation("tanh"),
                layers.Dense(2, activation="softmax", kernel_initializer="he_normal"),
            ],
            name="images",
        ),
        lambda: nf.Sequential([layers.Dense(4)], name="no_input_yet"),
    ],
    ids=["functional", "dropout_flatten", "unbuilt"],
)
def test_a_model_rebuilt_from_its_config_has_the_same_config_and_summary(build):
    model = build()
    copy = rebuilt(model)
    assert type(copy) is type(model)
    assert model_config(copy) == model_config(model)
    assert copy.built == model.built
    if model.built:
        assert summary_lines(copy) == summary_lines(model)
        assert [w.shape for w in copy.get_weights()] == [w.shape for w in model.get_weights()]


def test_a_layer_called_twice_is_rebuilt_with_both_calls():
    inputs = nf.Input(shape=(4,))
    shared = layers.Dense(4, activation="tanh", name="shared")
    outputs = layers.Dense(1)(shared(shared(inputs)))
    model = nf.Model(inputs, outputs)
    config = model_config(model)
    assert config["nodes"][1] == {"layer": "shared", "inbound": [["shared", 0]]}
    assert config["nodes"][2] == {"layer": "dense", "inbound": [["shared", 1]]}
    copy = rebuilt(model)
    copy.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_fleet_config_keeps_member_seeds_and_settings():
    model = nf.Sequential([layers.Dense(2, input_shape=(3,))], seed=4)
    model.compile(optimizer=SGD(learning_rate=[0.01, 0.1]), loss="mse")
    config = json.loads(json.dumps(model_config(model)))
    assert config["member_params"] == [{"learning_rate": 0.01}, {"learning_rate": 0.1}]
    copy = model_from_config(config)
    assert copy.num_members == 2
    assert copy.member_seeds == [4, 4]
    assert copy.member_params == model.member_params


def test_compile_config_round_trips_and_keeps_stacked_members():
    models = []
    for seed, rate in ((1, 0.001), (2, 0.01)):
        model = nf.Sequential([layers.Dense(2, input_shape=(3,))], seed=seed)
        model.compile(optimizer=Adam(learning_rate=rate), loss="mse", metrics=["mae"])
        models.append(model)
    fleet = stack(models)
    config = json.loads(json.dumps(compile_config(fleet)))
    assert config["loss"] == "mean_squared_error"
    assert config["metrics"] == ["mae"]
    copy = model_from_config(model_config(fleet))
    compile_from_config(copy, config)
    assert compile_config(copy) == compile_config(fleet)
    assert copy.member_seeds == [1, 2]
    assert copy.compiled.optimizer.member_config(1)["learning_rate"] == 0.01


def test_an_uncompiled_model_has_no_compile_config():
    assert compile_config(nf.Sequential([layers.Dense(2, input_shape=(3,))])) is None


def test_a_custom_loss_cannot_be_saved():
    model = nf.Sequential([layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss=lambda y_true, y_pred: (y_true - y_pred).abs().sum(-1))
    with pytest.raises(InvalidArgumentError, match="custom loss"):
        compile_config(model)


def test_a_layer_class_outside_netfleet_is_refused():
    config = model_config(wines_graph())
    config["layers"][1] = {"class_name": "os.system", "config": {"command": "echo"}}
    with pytest.raises(InvalidArgumentError, match="Unknown layer class 'os.system'"):
        model_from_config(config)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.pop("layers"), "no 'layers' entry"),
        (lambda c: c.update(class_name="Subclassed"), "'Subclassed'"),
        (lambda c: c.update(seed="7"), "'seed' must be of type int"),
        (lambda c: c["nodes"][0].update(inbound=[["ghost", 0]]), r"\['ghost', 0\]"),
        (lambda c: c["nodes"][0].update(layer="ghost"), "unlisted layer 'ghost'"),
        (lambda c: c["inputs"].__setitem__(0, "measurements"), "layer name, call index"),
        (lambda c: c.update(member_params=[]), "one seed and one settings dict per member"),
    ],
)
def test_a_malformed_config_is_reported_clearly(edit, message):
    config = model_config(wines_graph())
    edit(config)
    with pytest.raises(InvalidArgumentError, match=message):
        model_from_config(config)


def test_bad_layer_settings_are_reported_by_the_layer():
    config = model_config(wines_graph())
    config["layers"][1]["config"]["shell"] = "rm -rf /"
    with pytest.raises(InvalidTypeError, match="shell"):
        model_from_config(config)


def test_only_sequential_and_functional_models_have_configs():
    class Custom(nf.Sequential):
        pass

    with pytest.raises(InvalidTypeError, match="Custom"):
        model_config(Custom([layers.Dense(2, input_shape=(3,))]))


def test_layers_sharing_a_name_cannot_be_saved():
    model = nf.Sequential(
        [layers.Dense(2, input_shape=(3,), name="same"), layers.Dense(2, name="same")]
    )
    with pytest.raises(InvalidArgumentError, match="named same"):
        model_config(model)


def test_numpy_member_settings_are_written_as_json(tmp_path):
    model = nf.Sequential([layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    model.set_members(2, params=[{"fold": np.int64(0)}, {"fold": np.int64(1)}])
    model.save(tmp_path / "model.keras")
    assert nf.load_model(tmp_path / "model.keras").member_params == [{"fold": 0}, {"fold": 1}]
