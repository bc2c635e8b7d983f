"""Tests for netfleet.layers.pooling against torch.nn.functional and Keras' "same" padding
(padded positions never count), alone and for every member of a fleet."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netfleet.layers import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    Input,
    MaxPooling1D,
    MaxPooling2D,
)


def _channels_first(x):
    return torch.as_tensor(x).movedim(-1, 1)


def _channels_last(y):
    return y.movedim(1, -1).numpy()


@pytest.mark.parametrize("pool_size, strides", [(2, None), ((2, 3), None), (3, 2), ((3, 2), 1)])
def test_valid_2d_pooling_equals_torch(rng, pool_size, strides):
    x = rng.normal(size=(2, 7, 8, 3)).astype(np.float32)
    stride = pool_size if strides is None else strides
    for layer, pool in (
        (MaxPooling2D(pool_size, strides), F.max_pool2d),
        (AveragePooling2D(pool_size, strides), F.avg_pool2d),
    ):
        expected = _channels_last(pool(_channels_first(x), pool_size, stride))
        np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-6)


def test_valid_1d_pooling_equals_torch(rng):
    x = rng.normal(size=(2, 9, 3)).astype(np.float32)
    max_expected = _channels_last(F.max_pool1d(_channels_first(x), 3, 2))
    avg_expected = _channels_last(F.avg_pool1d(_channels_first(x), 2, 2))
    np.testing.assert_allclose(MaxPooling1D(3, strides=2)(x).numpy(), max_expected)
    np.testing.assert_allclose(AveragePooling1D()(x).numpy(), avg_expected, rtol=1e-6)


def test_same_average_pooling_divides_by_the_real_positions_only(rng):
    x = rng.normal(size=(2, 5, 6, 2)).astype(np.float32)
    layer = AveragePooling2D(pool_size=3, strides=1, padding="same")
    expected = F.avg_pool2d(_channels_first(x), 3, 1, padding=1, count_include_pad=False)
    np.testing.assert_allclose(layer(x).numpy(), _channels_last(expected), rtol=1e-5)
    # an odd padding goes at the end: [1, 2], [3, 4], [5, pad] -> 1.5, 3.5, 5
    out = AveragePooling1D(2, padding="same")(np.arange(1.0, 6.0).reshape(1, 5, 1))
    np.testing.assert_allclose(out[0, :, 0].numpy(), [1.5, 3.5, 5.0])


def test_same_max_pooling_never_picks_the_padding():
    out = MaxPooling1D(2, padding="same")(np.array([-1.0, -2.0, -3.0]).reshape(1, 3, 1))
    np.testing.assert_array_equal(out[0, :, 0].numpy(), [-1.0, -3.0])
    x = -np.arange(1.0, 17.0).reshape(1, 4, 4, 1)
    out = MaxPooling2D(3, strides=2, padding="same")(x)
    assert out.shape == (1, 2, 2, 1)
    np.testing.assert_array_equal(out[0, :, :, 0].numpy(), [[-1.0, -3.0], [-9.0, -11.0]])


def test_global_pooling_reduces_every_spatial_axis(rng):
    x2 = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)
    x1 = rng.normal(size=(2, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(
        GlobalAveragePooling2D()(x2).numpy(), x2.mean(axis=(1, 2)), atol=1e-6
    )
    np.testing.assert_allclose(GlobalMaxPooling2D()(x2).numpy(), x2.max(axis=(1, 2)))
    np.testing.assert_allclose(GlobalAveragePooling1D()(x1).numpy(), x1.mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(GlobalMaxPooling1D()(x1).numpy(), x1.max(axis=1))
    assert GlobalAveragePooling2D(keepdims=True)(x2).shape == (2, 1, 1, 3)
    assert GlobalMaxPooling1D(keepdims=True).compute_output_shape((None, 6, 3)) == (None, 1, 3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: MaxPooling2D(),
        lambda: AveragePooling2D(3, strides=2, padding="same"),
        lambda: MaxPooling1D(2, padding="same"),
        lambda: GlobalAveragePooling2D(),
        lambda: GlobalMaxPooling1D(),
    ],
    ids=["max2d", "avg2d_same", "max1d_same", "global_avg2d", "global_max1d"],
)
def test_each_member_pools_its_own_batch(rng, members, make):
    layer = make()
    rank = 2 if "2D" in type(layer).__name__ else 1
    example = (5, 6, 2) if rank == 2 else (7, 2)
    layer.build((None, *example))
    x = torch.as_tensor(rng.normal(size=(members, 3, *example)).astype(np.float32))
    out = layer.call(x)
    for m in range(members):
        np.testing.assert_array_equal(out[m].numpy(), make()(x[m].numpy()).numpy())


def test_pooling_output_shapes_follow_keras():
    assert MaxPooling2D().compute_output_shape((None, 26, 26, 32)) == (None, 13, 13, 32)
    assert MaxPooling2D(3, 2, "same").compute_output_shape((None, 7, 6, 1)) == (None, 4, 3, 1)
    assert AveragePooling1D(4).compute_output_shape((None, 9, 2)) == (None, 2, 2)
    assert GlobalMaxPooling2D()(Input((5, 5, 7))).shape == (None, 7)


@pytest.mark.parametrize("cls", [MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D])
def test_pooling_config_round_trips(cls):
    layer = cls(3, strides=1, padding="same", name="pool")
    assert cls.from_config(layer.get_config()).get_config() == layer.get_config()
    global_layer = GlobalAveragePooling2D(keepdims=True)
    assert GlobalAveragePooling2D.from_config(global_layer.get_config()).keepdims is True


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: MaxPooling2D(0), "The 'pool_size' argument of MaxPooling2D must be an integer"),
        (lambda: MaxPooling2D((2, 2, 2)), "'pool_size' argument of MaxPooling2D"),
        (lambda: AveragePooling1D(2, strides=0), "'strides' argument of AveragePooling1D"),
        (lambda: MaxPooling1D(padding="causal"), "'padding' argument of MaxPooling1D"),
        (lambda: GlobalMaxPooling2D(keepdims="yes"), "'keepdims' argument of GlobalMaxPooling2D"),
        (
            lambda: GlobalAveragePooling2D(data_format="channels_first"),
            "'data_format' argument of GlobalAveragePooling2D",
        ),
    ],
)
def test_bad_pooling_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_pooling_on_inputs_of_the_wrong_rank_says_what_it_expects():
    with pytest.raises(ValueError, match=r"MaxPooling2D expects inputs of rank 4"):
        MaxPooling2D()(Input((28, 28)))
