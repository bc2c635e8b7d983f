"""Adamax against Keras' formula, torch.optim.Adamax and Keras' own golden values."""

import numpy as np
import pytest
import torch

from netfleet.optimizers import Adamax

from .oracle import (
    OPTIONS_OFF,
    assert_trajectories_close,
    keras_adamax,
    keras_golden_run,
    keras_single_step,
    problem,
    run_formula,
    run_netfleet,
    run_torch,
)

SETTINGS = [
    {},
    {"learning_rate": 0.05},
    {"learning_rate": 0.2, "beta_1": 0.85, "beta_2": 0.95, "epsilon": 1e-6},
    {"learning_rate": 0.1, "beta_1": 0.0, "beta_2": 0.5, "epsilon": 1e-3},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_adamax_matches_keras_formula(settings):
    w0, grads = problem()
    actual = run_netfleet(Adamax(**settings), w0, grads)
    assert_trajectories_close(actual, run_formula(keras_adamax, w0, grads, **settings))


@pytest.mark.parametrize("settings", SETTINGS)
def test_adamax_matches_torch_optim_without_epsilon(settings):
    # Keras adds epsilon to u, torch to |g| inside the max: only epsilon=0 agrees.
    settings = {**settings, "epsilon": 0.0}
    torch_settings = {
        "lr": settings.get("learning_rate", 0.001),
        "betas": (settings.get("beta_1", 0.9), settings.get("beta_2", 0.999)),
        "eps": 0.0,
    }
    w0, grads = problem()
    actual = run_netfleet(Adamax(**settings), w0, grads)
    assert_trajectories_close(actual, run_torch(torch.optim.Adamax, w0, grads, **torch_settings))


def test_adamax_matches_keras_golden_values():
    actual = keras_single_step(Adamax(learning_rate=0.5))
    np.testing.assert_allclose(actual, [0.5, 1.5, 2.5, 3.5], atol=1e-4)
    golden = [
        [0.8] * 10,
        [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
        [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
        [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
        [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126],
    ]
    optimizer = Adamax(learning_rate=0.2, beta_1=0.85, beta_2=0.95, epsilon=1e-6)
    np.testing.assert_allclose(keras_golden_run(optimizer), golden, atol=5e-4)


def test_adamax_has_keras_defaults():
    assert Adamax().get_config() == {
        "name": "adamax",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        **OPTIONS_OFF,
    }
