"""Tests for netfleet.layers.convolutional (Conv1D, Conv2D) against torch.nn.functional and
Keras' padding rules, alone and as fleets, and a small CNN trained with fit."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netfleet import load_model
from netfleet.fleet import stack
from netfleet.layers import (
    Conv1D,
    Conv2D,
    Dense,
    Flatten,
    Input,
    MaxPooling2D,
)
from netfleet.models import Sequential
from netfleet.optimizers import SGD, Adam
from netfleet.utils import set_random_seed


def _built(layer, input_shape):
    layer.build((None, *input_shape))
    return layer


def _with_members(layer, weights):
    """`layer` holding one weight list per member: each weight becomes `(M, *shape)`."""
    for name, *values in zip(layer.weight_names, *weights):
        setattr(layer, name, torch.as_tensor(np.stack(values)))
    return layer


def _torch_conv2d(x, kernel, bias, **kwargs):
    """Keras' channels-last conv through torch: kernel (kh, kw, in, out)."""
    weight = torch.as_tensor(kernel).permute(3, 2, 0, 1)
    x = torch.as_tensor(x).permute(0, 3, 1, 2)
    return F.conv2d(x, weight, torch.as_tensor(bias), **kwargs).permute(0, 2, 3, 1).numpy()


# -- maths ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kernel_size, strides, dilation_rate",
    [(3, 1, 1), ((2, 3), 1, 1), (3, 2, 1), ((3, 2), (2, 1), 1), (3, 1, 2)],
)
def test_conv2d_valid_equals_torch_conv2d(rng, kernel_size, strides, dilation_rate):
    layer = _built(Conv2D(4, kernel_size, strides, dilation_rate=dilation_rate), (7, 8, 3))
    x = rng.normal(size=(2, 7, 8, 3)).astype(np.float32)
    kernel, bias = layer.get_weights()
    expected = _torch_conv2d(x, kernel, bias, stride=strides, dilation=dilation_rate)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("kernel_size, dilation_rate", [(3, 1), (4, 1), ((2, 5), 1), (3, 2)])
def test_conv2d_same_with_stride_1_keeps_the_size_like_torch_padding_same(
    rng, kernel_size, dilation_rate
):
    layer = _built(Conv2D(2, kernel_size, padding="same", dilation_rate=dilation_rate), (6, 7, 3))
    x = rng.normal(size=(2, 6, 7, 3)).astype(np.float32)
    kernel, bias = layer.get_weights()
    expected = _torch_conv2d(x, kernel, bias, padding="same", dilation=dilation_rate)
    out = layer(x).numpy()
    assert out.shape == (2, 6, 7, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_same_padding_with_strides_puts_the_odd_zero_at_the_end_as_keras():
    # 6 steps, window 3, stride 2: output ceil(6 / 2) = 3, one zero of padding, after the end
    layer = Conv1D(1, 3, strides=2, padding="same", kernel_initializer="ones")
    out = layer(np.arange(1.0, 7.0).reshape(1, 6, 1))
    np.testing.assert_allclose(out[0, :, 0].numpy(), [1 + 2 + 3, 3 + 4 + 5, 5 + 6 + 0])
    assert Conv2D(1, 3, strides=2, padding="same").compute_output_shape((None, 7, 6, 1)) == (
        None,
        4,
        3,
        1,
    )


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
def test_conv1d_equals_torch_conv1d(rng, padding):
    layer = _built(Conv1D(3, 4, padding=padding, activation="tanh"), (9, 2))
    x = rng.normal(size=(2, 9, 2)).astype(np.float32)
    kernel, bias = layer.get_weights()
    xt = torch.as_tensor(x).permute(0, 2, 1)
    if padding == "causal":
        xt, torch_padding = F.pad(xt, (3, 0)), 0
    else:
        torch_padding = padding
    weight = torch.as_tensor(kernel).permute(2, 1, 0)
    expected = torch.tanh(F.conv1d(xt, weight, torch.as_tensor(bias), padding=torch_padding))
    np.testing.assert_allclose(
        layer(x).numpy(), expected.permute(0, 2, 1).numpy(), rtol=1e-5, atol=1e-6
    )


def test_conv_kernel_is_glorot_uniform_over_the_receptive_field_and_bias_zeros():
    layer = _built(Conv2D(16, 3), (10, 10, 8))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 8, 16) and layer.kernel.shape == (1, 3, 3, 8, 16)
    limit = np.sqrt(6 / (3 * 3 * 8 + 3 * 3 * 16))
    assert limit * 0.9 < np.abs(kernel).max() <= limit
    assert np.all(bias == 0)
    assert layer.count_params() == 3 * 3 * 8 * 16 + 16


def test_conv_without_bias_has_only_a_kernel():
    layer = _built(Conv1D(2, 3, use_bias=False), (5, 4))
    assert layer.weight_names == ["kernel"]


# -- members ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shared_input", [False, True], ids=["own_batches", "shared_batch"])
def test_each_member_of_a_conv_fleet_equals_a_single_layer_with_its_weights(
    rng, members, shared_input
):
    def make():
        return Conv2D(3, (2, 3), strides=(1, 2), padding="same", activation="relu")

    weights = [
        [rng.normal(size=(2, 3, 2, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)]
        for _ in range(members)
    ]
    fleet = _with_members(_built(make(), (5, 6, 2)), weights)
    x = torch.as_tensor(rng.normal(size=(1 if shared_input else members, 4, 5, 6, 2)))
    out = fleet.call(x.float())
    assert out.shape == (members, 4, 5, 3, 3)
    for m in range(members):
        single = _built(make(), (5, 6, 2))
        single.set_weights(weights[m])
        expected = single(x[0 if shared_input else m].numpy()).numpy()
        np.testing.assert_allclose(out[m].numpy(), expected, rtol=1e-5, atol=1e-6)


def test_gradients_of_a_conv_fleet_are_each_members_own(rng, members):
    weights = [
        [rng.normal(size=(3, 2, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)]
        for _ in range(members)
    ]
    fleet = _with_members(_built(Conv1D(4, 3), (6, 2)), weights)
    fleet.kernel.requires_grad_(True)
    x = torch.as_tensor(rng.normal(size=(members, 3, 6, 2)).astype(np.float32))
    (fleet.call(x) ** 2).sum().backward()
    for m in range(members):
        kernel = torch.as_tensor(weights[m][0]).requires_grad_(True)
        xt = x[m].permute(0, 2, 1)
        out = F.conv1d(xt, kernel.permute(2, 1, 0), torch.as_tensor(weights[m][1]))
        (out**2).sum().backward()
        np.testing.assert_allclose(fleet.kernel.grad[m], kernel.grad, rtol=1e-4, atol=1e-5)


# -- shapes, config, bad input --------------------------------------------------------------
def test_conv_output_shape_follows_keras():
    assert Conv2D(32, 3).compute_output_shape((None, 28, 28, 1)) == (None, 26, 26, 32)
    assert Conv2D(8, 5, strides=2).compute_output_shape((None, 28, 28, 1)) == (None, 12, 12, 8)
    assert Conv1D(4, 3, dilation_rate=2).compute_output_shape((None, 10, 3)) == (None, 6, 4)
    assert Conv2D(4, 3)(Input((9, 9, 2))).shape == (None, 7, 7, 4)


def test_conv_config_round_trips():
    layer = Conv2D(
        5, (3, 2), strides=(2, 1), padding="same", activation="relu", use_bias=False, name="c"
    )
    clone = Conv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.kernel_size == (3, 2) and clone.strides == (2, 1) and clone.padding == "same"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": 0, "kernel_size": 3}, "The 'filters' argument of Conv2D must be an integer"),
        ({"filters": 2, "kernel_size": (3, 0)}, "The 'kernel_size' argument of Conv2D must be"),
        ({"filters": 2, "kernel_size": (3, 3, 3)}, "The 'kernel_size' argument of Conv2D"),
        ({"filters": 2, "kernel_size": 3, "padding": "full"}, "'padding' argument of Conv2D"),
        ({"filters": 2, "kernel_size": 3, "padding": "causal"}, "'padding' argument of Conv2D"),
        (
            {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
            "'dilation_rate' argument of Conv2D must be 1 when strides > 1",
        ),
        (
            {"filters": 2, "kernel_size": 3, "data_format": "channels_first"},
            "'data_format' argument of Conv2D must be 'channels_last'",
        ),
    ],
)
def test_bad_conv_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2D(**kwargs)


def test_conv_on_inputs_of_the_wrong_rank_or_too_small_says_what_it_expects():
    with pytest.raises(ValueError, match=r"Conv2D expects inputs of rank 4 \(batch, height"):
        Conv2D(2, 3)(Input((28, 28)))
    with pytest.raises(ValueError, match="'kernel_size' argument of Conv1D must be no larger"):
        Conv1D(2, 5)(Input((3, 1)))


# -- a small CNN in fit ---------------------------------------------------------------------
def _cnn(seed, optimizer):
    set_random_seed(seed)
    model = Sequential(
        [
            Input((6, 6, 1)),
            Conv2D(4, 3, activation="relu"),
            MaxPooling2D(),
            Flatten(),
            Dense(3, activation="softmax"),
        ],
        seed=seed,
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def images(rng):
    x = rng.normal(size=(48, 6, 6, 1)).astype(np.float32)
    y = (x[:, :3].mean(axis=(1, 2, 3)) > 0).astype(int) + (x[:, 3:].mean(axis=(1, 2, 3)) > 0)
    return x, y


def test_a_small_cnn_learns_with_fit(images):
    x, y = images
    model = _cnn(0, Adam(learning_rate=0.05))
    history = model.fit(x, y, batch_size=8, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    assert model.predict(x, verbose=0).shape == (48, 3)


def test_a_stacked_cnn_fleet_equals_three_single_runs(images):
    x, y = images
    settings = [(1, 0.01), (2, 0.03), (3, 0.1)]
    fleet = stack([_cnn(seed, Adam(learning_rate=lr)) for seed, lr in settings])
    history = fleet.fit(x, y, batch_size=8, epochs=3, verbose=0)
    for m, (seed, lr) in enumerate(settings):
        single = _cnn(seed, Adam(learning_rate=lr))
        own = single.fit(x, y, batch_size=8, epochs=3, verbose=0)
        np.testing.assert_allclose(history.member(m).history["loss"], own.history["loss"], 1e-5)
        for fleet_weight, weight in zip(fleet.get_weights(), single.get_weights()):
            np.testing.assert_allclose(fleet_weight[m], weight, rtol=1e-4, atol=1e-6)


def test_a_learning_rate_fleet_of_a_cnn_shares_its_batches_and_equals_single_runs(images):
    x, y = images
    rates = [0.01, 0.1, 0.3]
    fleet = _cnn(7, SGD(learning_rate=rates))
    fleet.fit(x, y, batch_size=16, epochs=2, verbose=0)
    predictions = fleet.predict(x, verbose=0)
    for m, rate in enumerate(rates):
        single = _cnn(7, SGD(learning_rate=rate))
        single.fit(x, y, batch_size=16, epochs=2, verbose=0)
        np.testing.assert_allclose(predictions[m], single.predict(x, verbose=0), atol=1e-5)


def test_a_cnn_fleet_saves_and_loads_with_the_same_predictions(images, tmp_path):
    x, y = images
    fleet = _cnn(0, SGD(learning_rate=[0.01, 0.1]))
    fleet.fit(x, y, batch_size=16, epochs=1, verbose=0)
    fleet.save(tmp_path / "cnn.keras")
    loaded = load_model(tmp_path / "cnn.keras")
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in fleet.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), fleet.predict(x, verbose=0))
