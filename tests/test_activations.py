"""Tests for netfleet.activations: each of Keras' 13 names against its formula (NumPy) and
torch, aliases, and errors for unknown names."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netfleet import activations

X = np.linspace(-6, 6, 97).reshape(1, -1)
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2)))


# Keras 3 formulas, written in NumPy.
FORMULAS = {
    "linear": lambda x: x,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "softmax": _softmax,
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "gelu": _gelu,
    "swish": lambda x: x * _sigmoid(x),
}
TORCH = {
    "linear": lambda x: x,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "softmax": lambda x: torch.softmax(x, -1),
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "hard_sigmoid": lambda x: F.relu6(x + 3) / 6,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "gelu": F.gelu,
    "swish": lambda x: x * torch.sigmoid(x),
}


def test_the_thirteen_keras_names_are_registered():
    assert sorted(activations.ALL) == sorted(FORMULAS)
    assert len(activations.ALL) == 13


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_activation_matches_keras_formula(name):
    fn = activations.get(name)
    out = fn(torch.tensor(X, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(out, FORMULAS[name](X), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name", sorted(TORCH))
def test_activation_matches_torch_in_float32(name):
    x = torch.tensor(X, dtype=torch.float32)
    torch.testing.assert_close(activations.get(name)(x), TORCH[name](x))


def test_softmax_normalises_the_last_axis_of_member_batches():
    x = torch.randn(3, 5, 4)
    out = activations.softmax(x)
    torch.testing.assert_close(out.sum(-1), torch.ones(3, 5))


def test_hard_sigmoid_is_keras3s_relu6_form_not_keras2s_slope_0_2():
    out = activations.hard_sigmoid(torch.tensor([-3.0, -1.5, 0.0, 1.5, 3.0]))
    torch.testing.assert_close(out, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))


def test_leaky_relu_default_slope_is_0_2_and_can_be_changed():
    x = torch.tensor([-10.0, 10.0])
    torch.testing.assert_close(activations.leaky_relu(x), torch.tensor([-2.0, 10.0]))
    torch.testing.assert_close(activations.leaky_relu(x, 0.1), torch.tensor([-1.0, 10.0]))


def test_none_and_silu_are_aliases():
    assert activations.get(None) is activations.linear
    assert activations.get("silu") is activations.swish


def test_a_callable_is_returned_unchanged():
    def custom(x):
        return x * 2

    assert activations.get(custom) is custom


@pytest.mark.parametrize(
    "name, suggestion", [("relu6x", "relu"), ("sigmod", "sigmoid"), ("softmx", "softmax")]
)
def test_unknown_name_raises_with_did_you_mean(name, suggestion):
    with pytest.raises(
        ValueError, match=f"Unknown activation '{name}'. Did you mean '{suggestion}'"
    ):
        activations.get(name)


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="Valid names: elu, gelu, hard_sigmoid"):
        activations.get("zzz")


def test_a_non_name_non_callable_raises_type_error():
    with pytest.raises(TypeError, match="must be a name or a callable"):
        activations.get(3)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_serialize_returns_the_registered_name(name):
    assert activations.serialize(activations.get(name)) == name


def test_serialize_rejects_custom_functions():
    with pytest.raises(TypeError, match="custom activation"):
        activations.serialize(lambda x: x)
