"""Adadelta against Keras' formula, torch.optim.Adadelta and Keras' own golden values."""

import numpy as np
import pytest
import torch

from netfleet.optimizers import Adadelta

from .oracle import (
    OPTIONS_OFF,
    assert_trajectories_close,
    keras_adadelta,
    keras_golden_run,
    keras_single_step,
    problem,
    run_formula,
    run_netfleet,
    run_torch,
)

SETTINGS = [
    {},
    {"learning_rate": 1.0},
    {"learning_rate": 1.0, "rho": 0.8, "epsilon": 1e-6},
    {"learning_rate": 0.5, "rho": 0.0, "epsilon": 1e-3},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_adadelta_matches_keras_formula(settings):
    w0, grads = problem()
    actual = run_netfleet(Adadelta(**settings), w0, grads)
    assert_trajectories_close(actual, run_formula(keras_adadelta, w0, grads, **settings))


@pytest.mark.parametrize("settings", SETTINGS)
def test_adadelta_matches_torch_optim(settings):
    # Same maths, epsilon included (torch's defaults differ: lr=1.0, rho=0.9, eps=1e-6).
    torch_settings = {
        "lr": settings.get("learning_rate", 0.001),
        "rho": settings.get("rho", 0.95),
        "eps": settings.get("epsilon", 1e-7),
    }
    w0, grads = problem()
    actual = run_netfleet(Adadelta(**settings), w0, grads)
    assert_trajectories_close(actual, run_torch(torch.optim.Adadelta, w0, grads, **torch_settings))


def test_adadelta_matches_keras_golden_values():
    actual = keras_single_step(Adadelta(learning_rate=0.5))
    np.testing.assert_allclose(actual, [0.9993, 1.9993, 2.9993, 3.9993], atol=1e-4)
    golden = np.tile([[0.9978], [0.9947], [0.9915], [0.9882], [0.9849]], (1, 10))
    optimizer = Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-6)
    np.testing.assert_allclose(keras_golden_run(optimizer), golden, atol=5e-4)


def test_adadelta_has_keras_defaults():
    assert Adadelta().get_config() == {
        "name": "adadelta",
        "learning_rate": 0.001,
        "rho": 0.95,
        "epsilon": 1e-7,
        **OPTIONS_OFF,
    }
