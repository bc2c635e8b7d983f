"""Tests for netfleet.models.sequential: building a stack of layers the ways the course does
(list, `add`, deferred until data), its errors, weights and parameter counts."""

import numpy as np
import pytest

import netfleet.backend as K
from netfleet.layers import Activation, Dense, Input
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD


def _relu(x):
    return np.maximum(x, 0)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# -- parameter counts of the course's models -----------------------------------------------------
def test_lecture_mnist_network_has_25450_parameters():
    model = Sequential(
        [Dense(32, input_shape=(784,)), Activation("relu"), Dense(10), Activation("softmax")]
    )
    assert [layer.count_params() for layer in model.layers] == [25120, 0, 330, 0]
    assert model.count_params() == 25450
    assert model.input_shape == (None, 784) and model.output_shape == (None, 10)


def test_notebook_logistic_regression_has_5_parameters():
    model = Sequential()
    model.add(Dense(1, input_shape=(4,), activation="sigmoid"))
    assert model.count_params() == 5


def test_notebook_inner_layer_models_have_13_and_26_parameters():
    model = Sequential()
    model.add(Dense(2, input_shape=(4,), activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    assert model.count_params() == 13
    model = Sequential()
    model.add(Dense(3, input_shape=(4,), activation="relu"))
    model.add(Dense(2, activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    assert [layer.count_params() for layer in model.layers] == [15, 8, 3]


def test_wines_exercise_network_has_178_parameters():
    model = Sequential(
        [Dense(8, input_shape=(13,)), Dense(5), Dense(2), Dense(3, activation="softmax")]
    )
    assert [layer.count_params() for layer in model.layers] == [112, 45, 12, 9]
    assert model.count_params() == 178


# -- building ----------------------------------------------------------------------------------
def test_sequential_from_a_list_equals_sequential_from_add():
    stacked = Sequential([Dense(3, input_shape=(4,)), Dense(1)])
    added = Sequential()
    added.add(Dense(3, input_shape=(4,)))
    added.add(Dense(1))
    assert [w.shape for w in stacked.get_weights()] == [w.shape for w in added.get_weights()]


def test_an_input_tensor_can_start_the_stack():
    model = Sequential([Input(shape=(6,)), Dense(2)])
    assert model.built and model.input_shape == (None, 6)
    assert [layer.name for layer in model.layers] == [model.layers[0].name]


def test_without_an_input_shape_the_model_is_built_by_its_first_data():
    model = Sequential([Dense(3), Dense(1)])
    assert not model.built
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 5)), np.zeros(8), epochs=1, verbose=0)
    assert model.built and model.input_shape == (None, 5)
    assert model.layers[0].kernel.shape == (1, 5, 3)
    assert model.count_params() == 5 * 3 + 3 + 3 + 1


def test_predict_builds_an_unbuilt_model_too():
    model = Sequential([Dense(2)])
    assert model.predict(np.ones((3, 4)), verbose=0).shape == (3, 2)
    assert model.built


def test_build_with_a_batch_shape_creates_the_weights():
    model = Sequential([Dense(5), Dense(2)])
    model.build((None, 7))
    assert [w.shape for w in model.get_weights()] == [(7, 5), (5,), (5, 2), (2,)]


def test_summary_and_weights_before_the_input_shape_is_known_raise_value_error():
    model = Sequential()
    model.add(Dense(3))
    for call in (model.summary, model.get_weights, model.count_params):
        with pytest.raises(ValueError, match="input shape"):
            call()
    with pytest.raises(ValueError, match="input shape"):
        model.set_weights([])


def test_add_of_a_non_layer_raises_type_error():
    model = Sequential()
    with pytest.raises(TypeError, match="'layer' argument of Sequential.add must be a Layer"):
        model.add("dense")
    with pytest.raises(TypeError, match="of type function"):
        model.add(lambda x: x)


def test_add_of_a_layer_whose_input_shape_does_not_fit_raises():
    model = Sequential([Dense(2, input_shape=(4,))])
    with pytest.raises(ValueError, match=r"declares input_shape=\(3,\).*shape \(2,\)"):
        model.add(Dense(1, input_shape=(3,)))


def test_an_input_after_other_layers_raises():
    model = Sequential([Dense(2, input_shape=(4,))])
    with pytest.raises(ValueError, match="Input can only be the first"):
        model.add(Input(shape=(2,)))


def test_pop_removes_the_last_layer():
    model = Sequential([Dense(3, input_shape=(4,)), Dense(1)])
    removed = model.pop()
    assert isinstance(removed, Dense) and removed.units == 1
    assert model.output_shape == (None, 3)
    model.pop()
    assert not model.built
    with pytest.raises(ValueError, match="no layer to pop"):
        model.pop()


# -- weights and forward pass ---------------------------------------------------------------------
def test_predict_equals_a_numpy_forward_pass_from_get_weights(rng):
    model = Sequential(
        [Dense(3, input_shape=(4,), activation="relu"), Dense(1, activation="sigmoid")]
    )
    w1, b1, w2, b2 = model.get_weights()
    x = rng.normal(size=(10, 4))
    expected = _sigmoid(_relu(x @ w1 + b1) @ w2 + b2)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_set_weights_then_get_weights_round_trips(rng):
    model = Sequential([Dense(3, input_shape=(4,)), Dense(2)])
    new = [rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="set_weights expects 4 arrays"):
        model.set_weights(new[:3])


def test_a_fleet_has_weights_with_a_member_axis(members, rng):
    model = Sequential([Dense(3, input_shape=(4,)), Dense(2)])
    model.set_members(members)
    model.compile("sgd", "mse")
    x = rng.normal(size=(5, 4))
    out = model.predict(x, verbose=0)
    assert out.shape == ((members, 5, 2) if members > 1 else (5, 2))
    shapes = [w.shape for w in model.get_weights()]
    lead = (members,) if members > 1 else ()
    assert shapes == [(*lead, 4, 3), (*lead, 3), (*lead, 3, 2), (*lead, 2)]
    assert model.count_params() == 4 * 3 + 3 + 3 * 2 + 2  # one member's, as Keras shows


def test_a_sequential_model_is_a_model_and_can_be_a_layer_source():
    model = Sequential([Dense(3, input_shape=(4,)), Dense(2)])
    assert isinstance(model, Model)
    assert model.input is model.layers[0].input
    assert model.output is model.layers[-1].output


def test_default_names_count_up_and_clear_session_resets_them():
    K.clear_session()
    assert [Sequential().name, Sequential().name] == ["sequential", "sequential_1"]
    K.clear_session()
    assert Sequential().name == "sequential"
    assert Sequential(name="mine").name == "mine"


def test_a_trained_fleet_cannot_be_recompiled_to_another_member_count(rng):
    """The notebook's one-layer model, trained as a fleet of 3, then compiled for 2."""
    X, y = rng.normal(size=(16, 4)), rng.integers(0, 2, size=16)
    model = Sequential([Dense(1, input_shape=(4,), activation="sigmoid")])
    model.compile(SGD(learning_rate=[0.01, 0.1, 0.5]), "binary_crossentropy")
    model.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="already has 3 members; it cannot become 2"):
        model.compile(SGD(learning_rate=[0.01, 0.1]), "binary_crossentropy")
    model.compile(SGD(learning_rate=[0.2, 0.3, 0.4]), "binary_crossentropy")
    assert model.fit(X, y, epochs=1, verbose=0).history["loss"][0].shape == (3,)
