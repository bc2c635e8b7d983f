"""Tests for netfleet.models.model, the functional API: `Input`, `Model(inputs, outputs)`,
sub-models over the layers of a trained model, `layer.input` / `layer.output`, and
`netfleet.backend.function` (the notebook's `K.function([inp], [out])`)."""

import numpy as np
import pytest

import netfleet.backend as K
from netfleet.layers import Dense, Input, InputLayer
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD, RMSprop
from netfleet.utils import set_random_seed


def _relu(x):
    return np.maximum(x, 0)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _two_layer_net():
    inputs = Input(shape=(4,))
    hidden = Dense(3, activation="relu")(inputs)
    outputs = Dense(1, activation="sigmoid")(hidden)
    return inputs, hidden, outputs


@pytest.fixture
def xy(rng):
    X = rng.normal(size=(64, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(float)


# -- graph -------------------------------------------------------------------------------------
def test_model_from_inputs_and_outputs_lists_its_layers_in_order():
    K.clear_session()
    inputs, _, outputs = _two_layer_net()
    model = Model(inputs, outputs)
    assert model.name == "functional"
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense", "Dense"]
    assert model.input is inputs and model.output is outputs
    assert model.input_shape == (None, 4) and model.output_shape == (None, 1)
    assert model.count_params() == 4 * 3 + 3 + 3 + 1


def test_keyword_form_and_list_form_build_the_same_graph():
    inputs, _, outputs = _two_layer_net()
    a = Model(inputs=inputs, outputs=outputs)
    b = Model([inputs], [outputs])
    assert a.layers == b.layers


def test_predict_equals_numpy_forward_pass(rng):
    inputs, _, outputs = _two_layer_net()
    model = Model(inputs, outputs)
    w1, b1, w2, b2 = model.get_weights()
    x = rng.normal(size=(9, 4))
    expected = _sigmoid(_relu(x @ w1 + b1) @ w2 + b2)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_a_layer_called_twice_shares_its_weights(rng):
    inputs = Input(shape=(3,))
    shared = Dense(3, activation="tanh")
    outputs = shared(shared(inputs))
    model = Model(inputs, outputs)
    assert model.count_params() == 12
    (kernel, bias) = model.get_weights()
    x = rng.normal(size=(5, 3))
    expected = np.tanh(np.tanh(x @ kernel + bias) @ kernel + bias)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_layer_input_and_output_are_the_tensors_of_its_call():
    inputs, hidden, outputs = _two_layer_net()
    model = Model(inputs, outputs)
    first, second = model.layers[1], model.layers[2]
    assert first.input is inputs and first.output is hidden
    assert second.input is hidden and second.output is outputs
    assert isinstance(model.layers[0], InputLayer) and model.layers[0].output is inputs
    assert hidden.shape == (None, 3) and repr(hidden).startswith("<SymbolicTensor shape=(None, 3)")


def test_disconnected_graph_raises():
    _, _, outputs = _two_layer_net()
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(Input(shape=(4,)), outputs)


def test_non_symbolic_inputs_raise_type_error():
    _, _, outputs = _two_layer_net()
    with pytest.raises(TypeError, match="'inputs' argument of Model must be symbolic tensors"):
        Model(np.ones((2, 4)), outputs)


def test_get_layer_by_name_and_index():
    K.clear_session()
    inputs, _, outputs = _two_layer_net()
    model = Model(inputs, outputs)
    assert model.get_layer("dense_1") is model.layers[2]
    assert model.get_layer(index=1) is model.layers[1]
    with pytest.raises(ValueError, match="No layer named 'dense_9'"):
        model.get_layer("dense_9")


# -- sub-models share weights with the trained model ----------------------------------------------
def test_sub_model_to_an_inner_layer_uses_the_trained_weights(xy):
    X, y = xy
    inputs, _, outputs = _two_layer_net()
    model = Model(inputs, outputs)
    model.compile(SGD(learning_rate=0.5), "binary_crossentropy", ["accuracy"])
    before = model.get_weights()
    model.fit(X, y, epochs=2, verbose=0)
    features = Model(inputs, model.layers[1].output)
    w1, b1, _, _ = model.get_weights()
    assert not np.allclose(w1, before[0])
    np.testing.assert_allclose(
        features.predict(X, verbose=0), _relu(X @ w1 + b1), rtol=1e-5, atol=1e-6
    )
    # the sub-model's layers are the model's layers, not copies
    assert features.layers[1] is model.layers[1]


def test_sub_model_sees_further_training_of_the_model(xy):
    X, y = xy
    inputs, hidden, outputs = _two_layer_net()
    model = Model(inputs, outputs)
    model.compile(SGD(learning_rate=0.5), "binary_crossentropy")
    features = Model(inputs, hidden)
    first = features.predict(X, verbose=0)
    model.fit(X, y, epochs=1, verbose=0)
    second = features.predict(X, verbose=0)
    assert not np.allclose(first, second)
    w1, b1, _, _ = model.get_weights()
    np.testing.assert_allclose(second, _relu(X @ w1 + b1), rtol=1e-5, atol=1e-6)


def test_using_a_sub_model_between_fits_keeps_the_optimizer_state(xy):
    """The notebook's loop: fit one epoch, compute the inner features, repeat. Reading the
    features must not disturb training (RMSprop's moments and step count)."""
    X, y = xy

    def run(read_features):
        set_random_seed(1)
        model = Sequential(
            [
                Dense(3, input_shape=(4,), activation="relu"),
                Dense(2, activation="relu"),
                Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(RMSprop(learning_rate=0.01), "binary_crossentropy", ["accuracy"])
        features = K.function([model.layers[0].input], [model.layers[1].output])
        losses = []
        for _ in range(3):
            losses += model.fit(X, y, batch_size=16, epochs=1, verbose=0).history["loss"]
            if read_features:
                features([X])
        return losses, float(model.compiled.optimizer.iterations.max())

    plain, with_features = run(False), run(True)
    assert with_features[1] == plain[1] == 12
    np.testing.assert_allclose(with_features[0], plain[0], rtol=1e-6)


def test_sub_model_of_a_trained_fleet_predicts_one_output_per_member(xy):
    X, y = xy
    inputs, hidden, outputs = _two_layer_net()
    fleet = Model(inputs, outputs)
    fleet.compile(SGD(learning_rate=[0.1, 0.5, 1.0]), "binary_crossentropy")
    fleet.fit(X, y, epochs=1, verbose=0)
    features = Model(inputs, hidden).predict(X, verbose=0)
    kernels, biases, _, _ = fleet.get_weights()
    assert features.shape == (3, 64, 3) and kernels.shape == (3, 4, 3)
    for m in range(3):
        expected = _relu(X @ kernels[m] + biases[m])
        np.testing.assert_allclose(features[m], expected, rtol=1e-5, atol=1e-6)


# -- backend.function ----------------------------------------------------------------------------
def test_backend_function_equals_the_inner_layer_computed_by_hand(banknotes_split):
    X_train, X_test, y_train, _ = banknotes_split
    K.clear_session()
    model = Sequential()
    model.add(Dense(2, input_shape=(4,), activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(RMSprop(learning_rate=0.01), "binary_crossentropy", ["accuracy"])
    model.fit(X_train, y_train, batch_size=16, epochs=1, verbose=0)
    inp = model.layers[0].input
    out = model.layers[0].output
    features_function = K.function([inp], [out])
    features = features_function([X_test])[0]
    w1, b1, _, _ = model.get_weights()
    assert features.shape == (412, 2)
    np.testing.assert_allclose(features, _relu(X_test @ w1 + b1), rtol=1e-5, atol=1e-5)


def test_backend_function_accepts_single_tensors_and_arrays(rng):
    inputs, hidden, outputs = _two_layer_net()
    model = Model(inputs, outputs)
    x = rng.normal(size=(6, 4))
    f = K.function(inputs, outputs)
    (result,) = f(x)
    np.testing.assert_allclose(result, model.predict(x, verbose=0), rtol=1e-6)
    both = K.function([inputs], [hidden, outputs])([x])
    assert [a.shape for a in both] == [(6, 3), (6, 1)]


def test_backend_function_on_a_fleet_returns_one_output_per_member(rng):
    model = Sequential([Dense(3, input_shape=(4,), activation="relu"), Dense(1)])
    model.compile(SGD(learning_rate=[0.1, 0.2, 0.3]), "mse")
    model.fit(rng.normal(size=(16, 4)), rng.normal(size=16), epochs=1, verbose=0)
    f = K.function([model.layers[0].input], [model.layers[0].output])
    features = f([rng.normal(size=(5, 4))])[0]
    assert features.shape == (3, 5, 3)


def test_clear_session_resets_layer_and_model_names():
    K.clear_session()
    inputs, _, outputs = _two_layer_net()
    model = Model(inputs, outputs)
    assert [layer.name for layer in model.layers] == ["input_layer", "dense", "dense_1"]
    _two_layer_net()
    K.clear_session()
    inputs, _, outputs = _two_layer_net()
    model = Model(inputs, outputs)
    assert [layer.name for layer in model.layers] == ["input_layer", "dense", "dense_1"]
    assert model.name == "functional"
