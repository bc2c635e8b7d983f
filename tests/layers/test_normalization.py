"""Tests for netfleet.layers.normalization: BatchNormalization (against torch's batch_norm and
Keras' moving-average formula, per member, in fit and in files), LayerNormalization (against
torch's layer_norm) and Normalization (adapt, invert, fixed statistics, Keras' examples)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netfleet import load_model
from netfleet.engine.parameters import ParameterStore
from netfleet.fleet import stack, unstack
from netfleet.layers import (
    BatchNormalization,
    Dense,
    Input,
    LayerNormalization,
    Normalization,
)
from netfleet.models import Sequential
from netfleet.ops.context import ForwardContext, forward_context
from netfleet.optimizers import SGD
from netfleet.utils import set_random_seed


def _built(layer, input_shape):
    layer.build((None, *input_shape))
    return layer


def _with_members(layer, weights):
    """`layer` holding one weight list per member: each weight becomes `(M, *shape)`."""
    for name, *values in zip(layer.weight_names, *weights):
        setattr(layer, name, torch.as_tensor(np.stack(values).astype(np.float32)))
    return layer


# -- BatchNormalization ---------------------------------------------------------------------
def test_batch_norm_in_training_uses_the_batch_and_updates_moving_stats_as_keras(rng):
    layer = _built(BatchNormalization(momentum=0.9), (3,))
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    moving_mean, moving_variance = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    layer.set_weights([gamma, beta, moving_mean, moving_variance])
    x = rng.normal(2.0, 3.0, size=(16, 3)).astype(np.float32)
    out = layer(x, training=True).numpy()
    weight, bias = torch.as_tensor(gamma).float(), torch.as_tensor(beta).float()
    expected = F.batch_norm(torch.as_tensor(x), None, None, weight, bias, training=True, eps=1e-3)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-5)
    new_mean, new_variance = layer.get_weights()[2:]
    np.testing.assert_allclose(new_mean, 0.9 * moving_mean + 0.1 * x.mean(0), rtol=1e-5)
    # Keras' moving variance averages the biased batch variance (torch's the unbiased one)
    np.testing.assert_allclose(new_variance, 0.9 * moving_variance + 0.1 * x.var(0), rtol=1e-5)


def test_batch_norm_in_inference_uses_the_moving_statistics(rng):
    layer = _built(BatchNormalization(epsilon=0.01), (4, 5, 2))
    weights = [rng.normal(size=2), rng.normal(size=2), rng.normal(size=2), rng.uniform(1, 2, 2)]
    layer.set_weights(weights)
    x = rng.normal(size=(3, 4, 5, 2)).astype(np.float32)
    gamma, beta, mean, variance = (torch.as_tensor(w).float() for w in weights)
    expected = F.batch_norm(
        torch.as_tensor(x).movedim(-1, 1), mean, variance, gamma, beta, training=False, eps=0.01
    )
    np.testing.assert_allclose(layer(x).numpy(), expected.movedim(1, -1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.get_weights()[3], weights[3].astype(np.float32))


def test_batch_norm_on_images_normalizes_each_channel_over_batch_and_space(rng):
    layer = _built(BatchNormalization(center=False, scale=False), (4, 4, 3))
    assert layer.weight_names == ["moving_mean", "moving_variance"]
    x = rng.normal(1.0, 2.0, size=(5, 4, 4, 3)).astype(np.float32)
    expected = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-3)
    np.testing.assert_allclose(layer(x, training=True).numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[0], 0.01 * x.mean((0, 1, 2)), rtol=1e-4)


def test_a_frozen_batch_norm_runs_in_inference_mode_and_keeps_its_statistics(rng):
    layer = _built(BatchNormalization(trainable=False), (3,))
    x = rng.normal(5.0, 1.0, size=(8, 3)).astype(np.float32)
    with forward_context(ForwardContext(training=True)):
        out = layer.call(torch.as_tensor(x).unsqueeze(0))
    np.testing.assert_allclose(out[0].numpy(), x / np.sqrt(1 + 1e-3), rtol=1e-5)
    np.testing.assert_array_equal(layer.get_weights()[2], np.zeros(3))


def test_batch_norm_moving_statistics_are_non_trainable_weights():
    layer = _built(BatchNormalization(), (4,))
    assert layer.weight_names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert layer.trainable_weight_names == ["gamma", "beta"]
    assert [w.shape for w in layer.non_trainable_weights] == [(1, 4), (1, 4)]
    assert not layer.moving_mean.requires_grad and layer.gamma.requires_grad
    assert layer.count_params() == 16
    dense = _built(Dense(2), (4,))
    store = ParameterStore([layer, dense], 3)
    assert store.data.shape == (3, 4 + 4 + 4 * 2 + 2)  # gamma, beta, kernel, bias only
    assert layer.moving_mean.shape == (3, 4) and not layer.moving_mean.requires_grad


def test_each_member_keeps_its_own_moving_statistics(rng, members):
    weights = [
        [rng.normal(size=2), rng.normal(size=2), rng.normal(size=2), rng.uniform(1, 2, 2)]
        for _ in range(members)
    ]
    fleet = _with_members(_built(BatchNormalization(), (2,)), weights)
    x = torch.as_tensor(rng.normal(size=(members, 6, 2)).astype(np.float32))
    with torch.no_grad(), forward_context(ForwardContext(training=True)):
        out = fleet.call(x)
    for m in range(members):
        single = _built(BatchNormalization(), (2,))
        single.set_weights(weights[m])
        np.testing.assert_allclose(out[m], single(x[m].numpy(), training=True), 1e-5, 1e-6)
        for got, want in zip(fleet.get_weights(), single.get_weights()):
            np.testing.assert_allclose(got if members == 1 else got[m], want, rtol=1e-6)


def _bn_model(seed, learning_rate):
    set_random_seed(seed)
    model = Sequential(
        [Input((3,)), Dense(4), BatchNormalization(momentum=0.8), Dense(1, activation="sigmoid")],
        seed=seed,
    )
    model.compile(optimizer=SGD(learning_rate=learning_rate), loss="binary_crossentropy")
    return model


@pytest.fixture
def xy(rng):
    x = rng.normal(size=(40, 3)).astype(np.float32)
    return x, (x.sum(1) > 0).astype(np.float32)


def test_fit_updates_moving_statistics_and_predict_or_evaluate_do_not(xy):
    x, y = xy
    model = _bn_model(0, 0.1)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    moving = [w.copy() for w in model.layers[1].get_weights()[2:]]
    assert not np.allclose(moving[0], 0) and not np.allclose(moving[1], 1)
    model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    for before, after in zip(moving, model.layers[1].get_weights()[2:]):
        np.testing.assert_array_equal(before, after)


def test_a_stacked_batch_norm_fleet_equals_single_runs_and_unstacks(xy):
    x, y = xy
    settings = [(1, 0.05), (2, 0.1), (3, 0.3)]
    fleet = stack([_bn_model(seed, rate) for seed, rate in settings])
    fleet.fit(x, y, batch_size=8, epochs=2, verbose=0)
    singles = []
    for seed, rate in settings:
        singles.append(_bn_model(seed, rate))
        singles[-1].fit(x, y, batch_size=8, epochs=2, verbose=0)
    for m, single in enumerate(singles):
        for got, want in zip(fleet.get_weights(), single.get_weights()):
            np.testing.assert_allclose(got[m], want, rtol=1e-5, atol=1e-6)
    for member, single in zip(unstack(fleet), singles):
        np.testing.assert_allclose(member.predict(x, verbose=0), single.predict(x, verbose=0), 1e-5)


def test_moving_statistics_survive_save_and_load(xy, tmp_path):
    x, y = xy
    fleet = _bn_model(0, [0.05, 0.5])
    fleet.fit(x, y, batch_size=8, epochs=1, verbose=0)
    fleet.save(tmp_path / "bn.keras")
    loaded = load_model(tmp_path / "bn.keras")
    for got, want in zip(loaded.get_weights(), fleet.get_weights()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), fleet.predict(x, verbose=0))


def test_batch_norm_config_round_trips():
    layer = BatchNormalization(axis=1, momentum=0.9, epsilon=0.01, center=False, name="bn")
    assert BatchNormalization.from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"momentum": 1.5}, "The 'momentum' argument of BatchNormalization must be a float in"),
        ({"epsilon": 0}, "The 'epsilon' argument of BatchNormalization must be a float > 0"),
        ({"axis": 0}, "The 'axis' argument of BatchNormalization must be an integer axis other"),
        ({"center": "yes"}, "The 'center' argument of BatchNormalization must be True or False"),
    ],
)
def test_bad_batch_norm_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchNormalization(**kwargs)


def test_batch_norm_on_an_axis_the_inputs_lack_says_so():
    with pytest.raises(ValueError, match=r"normalizes along axis \[3\], which inputs of shape"):
        BatchNormalization(axis=3)(Input((4,)))


# -- LayerNormalization ---------------------------------------------------------------------
def test_layer_norm_equals_torch_layer_norm(rng):
    layer = _built(LayerNormalization(), (3, 5))
    gamma, beta = rng.normal(size=5), rng.normal(size=5)
    layer.set_weights([gamma, beta])
    x = rng.normal(size=(4, 3, 5)).astype(np.float32)
    expected = F.layer_norm(
        torch.as_tensor(x),
        (5,),
        torch.as_tensor(gamma).float(),
        torch.as_tensor(beta).float(),
        1e-3,
    )
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_layer_norm_over_several_axes_has_weights_over_them(rng):
    layer = _built(LayerNormalization(axis=[1, 2], center=False), (3, 4))
    assert layer.gamma.shape == (1, 3, 4) and layer.weight_names == ["gamma"]
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    mean, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    np.testing.assert_allclose(layer(x).numpy(), (x - mean) / np.sqrt(var + 1e-3), 1e-4, 1e-5)


def test_each_member_layer_norms_with_its_own_gamma_and_beta(rng, members):
    weights = [[rng.normal(size=3), rng.normal(size=3)] for _ in range(members)]
    fleet = _with_members(_built(LayerNormalization(), (3,)), weights)
    x = torch.as_tensor(rng.normal(size=(1, 5, 3)).astype(np.float32))  # a shared batch
    out = fleet.call(x)
    for m in range(members):
        single = _built(LayerNormalization(), (3,))
        single.set_weights(weights[m])
        np.testing.assert_allclose(out[m], single(x[0].numpy()), rtol=1e-6)


def test_layer_norm_config_round_trips_and_rejects_the_batch_axis():
    layer = LayerNormalization(axis=[1, 2], epsilon=1e-5, scale=False)
    assert LayerNormalization.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="The 'axis' argument of LayerNormalization must be"):
        LayerNormalization(axis=[0, 1])


# -- Normalization --------------------------------------------------------------------------
def test_normalization_adapt_learns_mean_and_biased_variance_per_feature(rng):
    data = rng.normal(3.0, 2.0, size=(50, 4))
    layer = Normalization()
    layer.adapt(data)
    mean, variance, count = layer.get_weights()
    np.testing.assert_allclose(mean, data.mean(0), rtol=1e-6)
    np.testing.assert_allclose(variance, data.var(0), rtol=1e-6)
    assert count == 50
    x = rng.normal(size=(3, 4))
    expected = (x - data.mean(0)) / np.sqrt(data.var(0))
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_normalization_reproduces_keras_documented_examples():
    adapt_data = np.array([[0.0, 7.0, 4.0], [2.0, 9.0, 6.0], [0.0, 7.0, 4.0], [2.0, 9.0, 6.0]])
    layer = Normalization(axis=-1)
    layer.adapt(adapt_data)
    np.testing.assert_allclose(layer(np.array([[0.0, 7.0, 4.0]])).numpy(), [[-1.0, -1.0, -1.0]])
    inverse = Normalization(axis=-1, invert=True)
    inverse.adapt(adapt_data)
    np.testing.assert_allclose(inverse(np.array([[1.0, 2.0, 3.0]])).numpy(), [[2.0, 10.0, 8.0]])
    fixed = Normalization(mean=3.0, variance=2.0)
    np.testing.assert_allclose(
        fixed(np.array([[1.0], [2.0], [3.0]])).numpy()[:, 0], [-1.4142135, -0.70710677, 0.0]
    )
    assert fixed.weights == []


def test_normalization_adapts_on_batches_as_on_the_whole_array(rng):
    data = rng.normal(size=(30, 2, 3)).astype(np.float32)
    whole, batched = Normalization(axis=(1, 2)), Normalization(axis=(1, 2))
    whole.adapt(data)
    batched.adapt((torch.as_tensor(data[i : i + 7]), None) for i in range(0, 30, 7))
    for got, want in zip(batched.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    scalar = Normalization(axis=None)
    scalar.adapt(data)
    np.testing.assert_allclose(scalar.get_weights()[:2], [data.mean(), data.var()], rtol=1e-5)


def test_a_zero_variance_feature_is_divided_by_keras_epsilon():
    layer = Normalization()
    layer.adapt(np.array([[0.0, 0.0], [0.0, 2.0]]))
    np.testing.assert_allclose(layer(np.array([[1e-6, 2.0]])).numpy(), [[10.0, 1.0]], 1e-5)


def test_an_adapted_normalization_carries_its_statistics_into_every_member_and_files(rng, tmp_path):
    data = rng.normal(5.0, 3.0, size=(40, 3)).astype(np.float32)
    norm = Normalization()
    norm.adapt(data)
    set_random_seed(0)
    model = Sequential([Input((3,)), norm, Dense(1, activation="sigmoid")])
    model.compile(optimizer=SGD(learning_rate=[0.1, 0.2]), loss="binary_crossentropy")
    model.fit(data, (data[:, 0] > 5).astype(np.float32), batch_size=8, epochs=1, verbose=0)
    mean = model.layers[0].get_weights()[0]
    assert mean.shape == (2, 3)
    np.testing.assert_allclose(mean, np.stack([data.mean(0)] * 2), rtol=1e-5)
    model.save(tmp_path / "norm.keras")
    loaded = load_model(tmp_path / "norm.keras")
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


def test_normalization_config_round_trips():
    layer = Normalization(axis=-1, mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True)
    clone = Normalization.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_allclose(clone(np.array([[1.0, 1.0]])).numpy(), [[3.0, 5.0]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mean": 1.0}, "The 'variance' argument of Normalization must be given together"),
        ({"mean": [1.0, 2.0], "variance": [1.0]}, "The 'variance' argument of Normalization"),
        ({"axis": 0}, "The 'axis' argument of Normalization must be"),
        ({"invert": 1}, "The 'invert' argument of Normalization must be True or False"),
    ],
)
def test_bad_normalization_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Normalization(**kwargs)


def test_normalization_adapt_rejects_data_of_another_shape_and_fixed_statistics():
    layer = Normalization()
    layer.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"built for inputs of shape \(None, 3\)"):
        layer.adapt(np.ones((4, 2)))
    with pytest.raises(ValueError, match="cannot change a mean and variance given"):
        Normalization(mean=0.0, variance=1.0).adapt(np.ones((4, 3)))
    with pytest.raises(TypeError, match="must be an array"):
        Normalization().adapt(3.0)


def test_fixed_statistics_broadcast_to_the_kept_axes_from_the_right():
    layer = Normalization(axis=(1, 2), mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
    out = layer(np.ones((1, 2, 3))).numpy()
    np.testing.assert_allclose(out, np.broadcast_to([0.0, -0.5, -2.0 / 3.0], (1, 2, 3)), 1e-6)
    with pytest.raises(ValueError, match="The 'mean' argument of Normalization must be broad"):
        Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])(Input((3,)))
