"""Tests for netfleet.layers.reshaping (Reshape): shapes with -1, every member reshaped alike,
config, and the errors of shapes that cannot fit."""

import numpy as np
import pytest
import torch

from netfleet.layers import Dense, Flatten, Input, Reshape
from netfleet.models import Sequential


def test_reshape_gives_each_example_the_target_shape(rng):
    x = rng.normal(size=(3, 2, 6))
    np.testing.assert_allclose(Reshape((4, 3))(x).numpy(), x.reshape(3, 4, 3), rtol=1e-6)
    np.testing.assert_allclose(Reshape((-1,))(x).numpy(), x.reshape(3, 12), rtol=1e-6)


def test_reshape_infers_its_minus_one_entry():
    assert Reshape((-1, 4)).compute_output_shape((None, 2, 6)) == (None, 3, 4)
    assert Reshape((2, -1, 2)).compute_output_shape((None, 12)) == (None, 2, 3, 2)
    assert Reshape((-1, 4)).compute_output_shape((None, None, 4)) == (None, None, 4)
    assert Reshape((28, 28, 1))(Input((784,))).shape == (None, 28, 28, 1)


def test_each_member_reshapes_its_own_batch(rng, members):
    x = torch.as_tensor(rng.normal(size=(members, 5, 2, 3)).astype(np.float32))
    layer = Reshape((3, -1))
    layer.build((None, 2, 3))
    out = layer.call(x)
    assert out.shape == (members, 5, 3, 2)
    for m in range(members):
        np.testing.assert_array_equal(out[m].numpy(), x[m].numpy().reshape(5, 3, 2))


def test_a_model_with_reshape_predicts_and_counts_params():
    model = Sequential([Input((6,)), Reshape((3, 2)), Dense(4), Flatten(), Dense(1)])
    assert model.layers[1].output.shape == (None, 3, 4)
    assert model.predict(np.ones((2, 6)), verbose=0).shape == (2, 1)


def test_reshape_config_round_trips():
    layer = Reshape((-1, 2), name="r")
    clone = Reshape.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.target_shape == (-1, 2)


@pytest.mark.parametrize("target", [(-1, -1), (0, 2), (2, "3"), 5])
def test_bad_target_shapes_are_named(target):
    with pytest.raises(ValueError, match="The 'target_shape' argument of Reshape must be a tuple"):
        Reshape(target)


def test_a_target_shape_of_another_size_says_both():
    with pytest.raises(ValueError, match=r"cannot give examples of shape \(2, 6\) \(12 values\)"):
        Reshape((5, 2))(Input((2, 6)))
    with pytest.raises(ValueError, match="cannot give examples"):
        Reshape((-1, 5))(Input((12,)))
