"""Adagrad against Keras' formula, torch.optim.Adagrad and Keras' own golden values."""

import numpy as np
import pytest
import torch

from netfleet.optimizers import Adagrad

from .oracle import (
    OPTIONS_OFF,
    assert_trajectories_close,
    keras_adagrad,
    keras_golden_run,
    keras_single_step,
    problem,
    run_formula,
    run_netfleet,
    run_torch,
)

SETTINGS = [
    {},
    {"learning_rate": 0.1},
    {"learning_rate": 0.05, "initial_accumulator_value": 0.0, "epsilon": 1e-3},
    {"learning_rate": 0.2, "initial_accumulator_value": 2.0},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_adagrad_matches_keras_formula(settings):
    w0, grads = problem()
    actual = run_netfleet(Adagrad(**settings), w0, grads)
    assert_trajectories_close(actual, run_formula(keras_adagrad, w0, grads, **settings))


@pytest.mark.parametrize("settings", SETTINGS)
def test_adagrad_matches_torch_optim_without_epsilon(settings):
    # Keras adds epsilon inside the square root, torch outside: only epsilon=0 agrees.
    settings = {**settings, "epsilon": 0.0}
    torch_settings = {
        "lr": settings.get("learning_rate", 0.001),
        "initial_accumulator_value": settings.get("initial_accumulator_value", 0.1),
        "eps": 0.0,
    }
    w0, grads = problem()
    actual = run_netfleet(Adagrad(**settings), w0, grads)
    assert_trajectories_close(actual, run_torch(torch.optim.Adagrad, w0, grads, **torch_settings))


def test_adagrad_matches_keras_golden_values():
    actual = keras_single_step(Adagrad(learning_rate=0.5))
    np.testing.assert_allclose(actual, [0.5233, 1.5007, 2.5005, 3.5061], atol=1e-4)
    golden = [
        [0.9963] * 10,
        [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
        [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
        [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
        [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825],
    ]
    optimizer = Adagrad(learning_rate=0.2, initial_accumulator_value=0.3, epsilon=1e-6)
    np.testing.assert_allclose(keras_golden_run(optimizer), golden, atol=5e-4)


def test_adagrad_has_keras_defaults():
    assert Adagrad().get_config() == {
        "name": "adagrad",
        "learning_rate": 0.001,
        "initial_accumulator_value": 0.1,
        "epsilon": 1e-7,
        **OPTIONS_OFF,
    }


def test_adagrad_starts_each_members_accumulator_at_its_own_value():
    optimizer = Adagrad(initial_accumulator_value=[0.0, 0.1, 2.0])
    optimizer.build(torch.zeros(3, 4))
    expected = torch.tensor([[0.0], [0.1], [2.0]]).expand(3, 4)
    assert torch.equal(optimizer.slots["accumulator"], expected)
