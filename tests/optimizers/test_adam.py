"""Adam against Keras' formula, torch.optim.Adam and Keras' own golden values."""

import numpy as np
import pytest
import torch

from netfleet.optimizers import Adam

from .oracle import (
    assert_trajectories_close,
    keras_single_step,
    problem,
    run_formula,
    run_netfleet,
    run_torch,
)

SETTINGS = [
    {},
    {"learning_rate": 0.05},
    {"learning_rate": 0.1, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
    {"learning_rate": 0.01, "beta_1": 0.0, "beta_2": 0.99, "epsilon": 0.0},
]


def keras_adam(w, g, t, state, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """keras/src/optimizers/adam.py (amsgrad=False), written out."""
    m = state.setdefault("m", np.zeros_like(w))
    v = state.setdefault("v", np.zeros_like(w))
    alpha = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    m += (g - m) * (1 - beta_1)
    v += (g**2 - v) * (1 - beta_2)
    w -= alpha * m / (np.sqrt(v) + epsilon)


@pytest.mark.parametrize("settings", SETTINGS)
def test_adam_matches_keras_formula(settings):
    w0, grads = problem()
    actual = run_netfleet(Adam(**settings), w0, grads)
    assert_trajectories_close(actual, run_formula(keras_adam, w0, grads, **settings))


@pytest.mark.parametrize("settings", SETTINGS)
def test_adam_matches_torch_optim_without_epsilon(settings):
    # Keras adds epsilon to sqrt(v), torch to sqrt(v / (1 - beta_2**t)): only epsilon=0 agrees.
    settings = {**settings, "epsilon": 0.0}
    torch_settings = {
        "lr": settings.get("learning_rate", 0.001),
        "betas": (settings.get("beta_1", 0.9), settings.get("beta_2", 0.999)),
        "eps": 0.0,
    }
    w0, grads = problem()
    actual = run_netfleet(Adam(**settings), w0, grads)
    assert_trajectories_close(actual, run_torch(torch.optim.Adam, w0, grads, **torch_settings))


def test_adam_differs_from_torch_adam_with_epsilon():
    w0, grads = problem()
    grads = grads * 1e-5  # small gradients make epsilon's placement visible
    actual = run_netfleet(Adam(learning_rate=0.1), w0, grads)
    torch_run = run_torch(torch.optim.Adam, w0, grads, lr=0.1, eps=1e-7)
    assert not np.allclose(actual, torch_run, rtol=1e-6, atol=1e-6)
    assert_trajectories_close(
        actual, run_formula(keras_adam, w0, grads, learning_rate=0.1), tolerance=1e-5
    )


def test_adam_matches_keras_golden_values():
    actual = keras_single_step(Adam(learning_rate=0.5))
    np.testing.assert_allclose(actual, [0.5, 1.5, 2.5, 3.5], atol=1e-4)


def test_adam_has_keras_defaults():
    assert Adam().get_config() == {
        "name": "adam",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
    }
