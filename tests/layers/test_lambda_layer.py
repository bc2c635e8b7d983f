"""Tests for netfleet.layers.lambda_layer (Lambda): a function written for one model, lifted
over the member axis, in memory only (its config and a model file are clear errors)."""

import numpy as np
import pytest
import torch

from netfleet.layers import Dense, Input, Lambda
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD
from netfleet.utils import set_random_seed


def test_lambda_applies_its_function_with_arguments(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    layer = Lambda(lambda t, power: t**power, arguments={"power": 3})
    np.testing.assert_allclose(layer(x).numpy(), x**3, rtol=1e-6)


def test_lambda_takes_a_list_of_tensors(rng):
    a, b = rng.normal(size=(2, 5, 3)).astype(np.float32)
    layer = Lambda(lambda tensors: tensors[0] * tensors[1])
    np.testing.assert_allclose(layer([a, b]).numpy(), a * b, rtol=1e-6)


def test_the_function_sees_one_members_batch_so_batch_axes_keep_their_meaning(rng, members):
    # written for (batch, steps, features): the mean over axis 1 is over the steps
    layer = Lambda(lambda t: t.mean(dim=1))
    layer.build((None, 4, 2))
    x = torch.as_tensor(rng.normal(size=(members, 3, 4, 2)).astype(np.float32))
    out = layer.call(x)
    assert out.shape == (members, 3, 2)
    np.testing.assert_allclose(out.numpy(), x.numpy().mean(axis=2), rtol=1e-6)


def test_lambda_output_shape_is_found_or_given():
    inputs = Input((4, 3))
    assert Lambda(lambda t: t.sum(dim=-1))(inputs).shape == (None, 4)
    assert Lambda(lambda t: t, output_shape=(4, 3))(inputs).shape == (None, 4, 3)
    assert Lambda(lambda t: t[:, 0], output_shape=lambda s: (s[0], s[2]))(inputs).shape == (
        None,
        3,
    )


def test_a_function_that_fails_on_zeros_asks_for_output_shape():
    def fails(t):
        raise RuntimeError("no")

    with pytest.raises(ValueError, match=r"could not find its output shape.*Give output_shape"):
        Lambda(fails)(Input((3,)))


def _model(seed, learning_rate):
    set_random_seed(seed)
    inputs = Input((3,))
    scaled = Lambda(lambda t: torch.tanh(t) * 2.0)(Dense(4)(inputs))
    model = Model(inputs, Dense(1, activation="sigmoid")(scaled), seed=seed)
    model.compile(optimizer=SGD(learning_rate=learning_rate), loss="binary_crossentropy")
    return model


def test_a_model_with_a_lambda_trains_in_a_fleet_as_single_runs(rng):
    x = rng.normal(size=(48, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    fleet = _model(1, [0.1, 0.5])
    history = fleet.fit(x, y, batch_size=8, epochs=3, verbose=0)
    for m, rate in enumerate([0.1, 0.5]):
        own = _model(1, rate).fit(x, y, batch_size=8, epochs=3, verbose=0)
        np.testing.assert_allclose(history.member(m).history["loss"], own.history["loss"], 1e-5)


def test_a_lambda_is_never_serialized_and_the_error_says_why(tmp_path):
    layer = Lambda(lambda t: t + 1, name="plus_one")
    with pytest.raises(ValueError, match=r"Lambda layer 'plus_one' holds Python code.*cannot be"):
        layer.get_config()
    model = Sequential([Input((2,)), layer, Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="netfleet never serializes code"):
        model.save(tmp_path / "lambda.keras")
    assert not (tmp_path / "lambda.keras").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"function": 3}, "The 'function' argument of Lambda must be a callable"),
        ({"function": abs, "output_shape": "3"}, "The 'output_shape' argument of Lambda"),
        ({"function": abs, "arguments": [1]}, "The 'arguments' argument of Lambda must be"),
    ],
)
def test_bad_lambda_arguments_are_named(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        Lambda(**kwargs)
