"""The lecture's logic gates built by hand: single sigmoid units with weights set by
`set_weights` compute AND, OR and NOT, and a hidden layer of (x1 AND x2) and
((NOT x1) AND (NOT x2)) followed by OR computes XNOR."""

import numpy as np
import pytest

from netfleet.layers import Dense
from netfleet.models import Sequential

X2 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
X1 = np.array([[0], [1]], dtype=float)

# (bias, weights): h(x) = sigmoid(bias + weights . x), the lecture's Theta values
AND = (-30.0, [20.0, 20.0])
OR = (-10.0, [20.0, 20.0])
NOT = (10.0, [-20.0])
NOR = (10.0, [-20.0, -20.0])  # (NOT x1) AND (NOT x2)


def _unit(bias, weights):
    model = Sequential([Dense(1, input_shape=(len(weights),), activation="sigmoid")])
    model.set_weights([np.array(weights).reshape(-1, 1), np.array([bias])])
    return model


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize(
    "gate, inputs, truth",
    [
        (AND, X2, [0, 0, 0, 1]),
        (OR, X2, [0, 1, 1, 1]),
        (NOT, X1, [1, 0]),
        (NOR, X2, [1, 0, 0, 0]),
    ],
    ids=["AND", "OR", "NOT", "NOR"],
)
def test_a_single_sigmoid_unit_computes_the_gate(gate, inputs, truth):
    out = _unit(*gate).predict(inputs, verbose=0)
    assert out.shape == (len(inputs), 1)
    np.testing.assert_array_equal(np.round(out[:, 0]), truth)


def test_and_unit_outputs_the_lectures_values():
    out = _unit(*AND).predict(X2, verbose=0)[:, 0]
    np.testing.assert_allclose(out, _sigmoid(np.array([-30, -10, -10, 10])), rtol=1e-5)
    assert out[0] < 1e-12 and out[3] > 0.9999


def test_xnor_from_a_hidden_layer_of_and_and_nor_then_or():
    model = Sequential(
        [Dense(2, input_shape=(2,), activation="sigmoid"), Dense(1, activation="sigmoid")]
    )
    hidden_kernel = np.array([AND[1], NOR[1]]).T  # column 0: AND, column 1: NOR
    hidden_bias = np.array([AND[0], NOR[0]])
    output_kernel = np.array(OR[1]).reshape(2, 1)
    output_bias = np.array([OR[0]])
    model.set_weights([hidden_kernel, hidden_bias, output_kernel, output_bias])
    out = model.predict(X2, verbose=0)
    np.testing.assert_array_equal(np.round(out[:, 0]), [1, 0, 0, 1])
    hidden = model.layers[0](X2).numpy()
    np.testing.assert_array_equal(np.round(hidden), [[0, 1], [0, 0], [0, 0], [1, 0]])


def test_the_gates_as_one_fleet_of_three_members():
    """AND, OR and NOR share an architecture: one fleet, one member per gate."""
    model = Sequential([Dense(1, input_shape=(2,), activation="sigmoid")])
    model.set_members(3)
    model.compile("sgd", "binary_crossentropy")
    kernels = np.array([AND[1], OR[1], NOR[1]])[..., None]
    biases = np.array([[AND[0]], [OR[0]], [NOR[0]]])
    model.set_weights([kernels, biases])
    out = model.predict(X2, verbose=0)
    assert out.shape == (3, 4, 1)
    np.testing.assert_array_equal(np.round(out[..., 0]), [[0, 0, 0, 1], [0, 1, 1, 1], [1, 0, 0, 0]])


def test_xnor_is_not_linearly_separable_but_the_network_is_exact():
    truth = np.array([1, 0, 0, 1])
    single = _unit(*OR).predict(X2, verbose=0)[:, 0]
    assert not np.array_equal(np.round(single), truth)
