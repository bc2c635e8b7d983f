"""Tests for netfleet.initializers: Keras' names, defaults and formulas, checked on large
draws (bounds, standard deviations, truncation) and for reproducibility."""

import math

import pytest
import torch

from netfleet import initializers
from netfleet.layers import Dense

FAN_IN, FAN_OUT = 400, 300
SHAPE = (FAN_IN, FAN_OUT)  # 120,000 draws


def _draw(name, shape=SHAPE, seed=0):
    return initializers.get(name)(shape, torch.Generator().manual_seed(seed))


# -- uniform: bounds -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, limit",
    [
        ("glorot_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
        ("he_uniform", math.sqrt(6 / FAN_IN)),
        ("lecun_uniform", math.sqrt(3 / FAN_IN)),
        ("uniform", 0.05),
        ("random_uniform", 0.05),
    ],
)
def test_uniform_initializers_fill_minus_limit_to_limit(name, limit):
    w = _draw(name)
    assert w.shape == SHAPE and w.dtype == torch.float32
    assert w.abs().max() <= limit
    assert w.min() < -0.99 * limit and w.max() > 0.99 * limit
    # a uniform draw on [-a, a] has std a / sqrt(3)
    assert abs(w.std().item() / (limit / math.sqrt(3)) - 1) < 0.02


# -- normal: standard deviations -------------------------------------------------------------
@pytest.mark.parametrize(
    "name, std, truncated",
    [
        ("glorot_normal", math.sqrt(2 / (FAN_IN + FAN_OUT)), True),
        ("he_normal", math.sqrt(2 / FAN_IN), True),
        ("lecun_normal", math.sqrt(1 / FAN_IN), True),
        ("normal", 0.05, False),
        ("random_normal", 0.05, False),
    ],
)
def test_normal_initializers_have_keras_standard_deviation(name, std, truncated):
    w = _draw(name)
    assert abs(w.mean().item()) < 0.02 * std
    assert abs(w.std().item() / std - 1) < 0.03
    if truncated:
        # Keras draws from N(0, (std / .8796)^2) truncated at two of its own deviations
        bound = 2 * std / 0.87962566103423978
        assert w.abs().max() <= bound * (1 + 1e-6)
        assert w.abs().max() > 0.98 * bound
    else:
        assert w.abs().max() > 3.5 * std


def test_variance_scaling_untruncated_normal_and_modes():
    init = initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal"
    )
    w = init(SHAPE, torch.Generator().manual_seed(0))
    assert abs(w.std().item() / math.sqrt(2.0 / FAN_OUT) - 1) < 0.03
    init = initializers.VarianceScaling(scale=3.0, mode="fan_avg", distribution="uniform")
    w = init(SHAPE, torch.Generator().manual_seed(0))
    assert w.abs().max() <= math.sqrt(3 * 3.0 / ((FAN_IN + FAN_OUT) / 2))


def test_fans_fold_the_receptive_field_as_keras_does():
    assert initializers._fans((5, 7)) == (5, 7)
    assert initializers._fans((3, 3, 8, 16)) == (72, 144)
    assert initializers._fans((6,)) == (6, 6)
    assert initializers._fans(()) == (1, 1)


# -- constants -----------------------------------------------------------------------------
def test_zeros_ones_and_constant():
    assert torch.equal(_draw("zeros", (3, 2)), torch.zeros(3, 2))
    assert torch.equal(_draw("ones", (3, 2)), torch.ones(3, 2))
    assert torch.equal(initializers.Constant(0.7)((4,)), torch.full((4,), 0.7))
    assert initializers.Constant(2).get_config() == {"value": 2.0}


# -- names, classes, configs -----------------------------------------------------------------
NAME_TO_CLASS = {
    "zeros": "Zeros",
    "ones": "Ones",
    "constant": "Constant",
    "uniform": "RandomUniform",
    "random_uniform": "RandomUniform",
    "normal": "RandomNormal",
    "random_normal": "RandomNormal",
    "glorot_uniform": "GlorotUniform",
    "glorot_normal": "GlorotNormal",
    "he_normal": "HeNormal",
    "he_uniform": "HeUniform",
    "lecun_normal": "LecunNormal",
    "lecun_uniform": "LecunUniform",
}


@pytest.mark.parametrize("name", sorted(NAME_TO_CLASS))
def test_keras_names_give_the_keras_classes(name):
    init = initializers.get(name)
    assert type(init).__name__ == NAME_TO_CLASS[name]
    assert type(initializers.get(NAME_TO_CLASS[name])) is type(init)


@pytest.mark.parametrize("name", sorted(NAME_TO_CLASS))
def test_serialize_then_get_round_trips(name):
    init = initializers.get(name)
    again = initializers.get(initializers.serialize(init))
    assert type(again) is type(init)
    assert again.get_config() == init.get_config()


def test_get_accepts_an_instance_and_a_class():
    init = initializers.HeNormal(seed=3)
    assert initializers.get(init) is init
    assert isinstance(initializers.get(initializers.Ones), initializers.Ones)


def test_glorot_uniform_is_variance_scaling_with_fan_avg():
    init = initializers.GlorotUniform()
    assert isinstance(init, initializers.VarianceScaling)
    assert (init.scale, init.mode, init.distribution) == (1.0, "fan_avg", "uniform")


def test_unknown_name_raises_with_did_you_mean():
    with pytest.raises(
        ValueError, match="Unknown initializer 'he_unifrom'. Did you mean 'he_uniform'"
    ):
        initializers.get("he_unifrom")


def test_bad_type_and_bad_arguments_raise():
    with pytest.raises(TypeError, match="An initializer must be"):
        initializers.get(0.5)
    with pytest.raises(ValueError, match="'maxval' argument of RandomUniform"):
        initializers.RandomUniform(0.1, -0.1)
    with pytest.raises(ValueError, match="'stddev' argument of RandomNormal"):
        initializers.RandomNormal(stddev=0)
    with pytest.raises(ValueError, match="'mode' argument of VarianceScaling"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="'distribution' argument of VarianceScaling"):
        initializers.VarianceScaling(distribution="normal")


# -- reproducibility -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "normal", "uniform"])
def test_the_same_generator_seed_gives_the_same_draw(name):
    assert torch.equal(_draw(name, (20, 10), seed=5), _draw(name, (20, 10), seed=5))
    assert not torch.equal(_draw(name, (20, 10), seed=5), _draw(name, (20, 10), seed=6))


def test_an_initializer_with_its_own_seed_ignores_the_generator():
    init = initializers.GlorotUniform(seed=42)
    a = init((5, 4), torch.Generator().manual_seed(1))
    b = init((5, 4), torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert torch.equal(a, initializers.GlorotUniform(seed=42)((5, 4)))


def test_dense_uses_its_kernel_initializer_by_name():
    layer = Dense(3, kernel_initializer="ones", bias_initializer=initializers.Constant(0.5))
    layer.build((None, 2))
    kernel, bias = layer.get_weights()
    assert (kernel == 1).all() and (bias == 0.5).all()
