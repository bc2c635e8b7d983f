"""Adam against Keras' formula, torch.optim.Adam and Keras' own golden values."""

import numpy as np
import pytest
import torch

from netfleet.optimizers import Adam

from .oracle import (
    KERAS_TOLERANCE,
    OPTIONS_OFF,
    assert_trajectories_close,
    keras_adam,
    keras_golden_run,
    keras_single_step,
    problem,
    run_formula,
    run_keras,
    run_netfleet,
    run_torch,
)

SETTINGS = [
    {},
    {"learning_rate": 0.05},
    {"learning_rate": 0.1, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
    {"learning_rate": 0.01, "beta_1": 0.0, "beta_2": 0.99, "epsilon": 0.0},
]


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


@pytest.mark.parametrize("settings", SETTINGS)
def test_amsgrad_matches_keras_formula_and_keras_itself(settings):
    settings = {**settings, "amsgrad": True}
    w0, grads = problem()
    actual = run_netfleet(Adam(**settings), w0, grads)
    assert_trajectories_close(actual, run_formula(keras_adam, w0, grads, **settings))
    assert_trajectories_close(actual, run_keras("Adam", settings, w0, grads), KERAS_TOLERANCE)


def test_amsgrad_matches_torch_optim_without_epsilon():
    # torch keeps the largest v, Keras the largest v too: with epsilon 0 they agree.
    w0, grads = problem()
    actual = run_netfleet(Adam(learning_rate=0.05, amsgrad=True, epsilon=0.0), w0, grads)
    expected = run_torch(torch.optim.Adam, w0, grads, lr=0.05, eps=0.0, amsgrad=True)
    assert_trajectories_close(actual, expected)


def test_amsgrad_matches_keras_golden_values():
    golden = np.tile([[0.999], [0.9982], [0.9974], [0.9965], [0.9955]], (1, 10))
    np.testing.assert_allclose(keras_golden_run(Adam(amsgrad=True)), golden, atol=5e-4)


def test_adam_has_keras_defaults():
    assert Adam().get_config() == {
        "name": "adam",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
        **OPTIONS_OFF,
    }
