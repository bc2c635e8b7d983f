"""SGD against Keras' formula, torch.optim.SGD and Keras' own golden values."""

import numpy as np
import pytest
import torch

from netfleet.optimizers import SGD

from .oracle import (
    OPTIONS_OFF,
    assert_trajectories_close,
    keras_golden_run,
    keras_sgd,
    keras_single_step,
    problem,
    run_formula,
    run_netfleet,
    run_torch,
)

SETTINGS = [
    {},
    {"learning_rate": 0.1},
    {"learning_rate": 0.05, "momentum": 0.9},
    {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
    {"learning_rate": 0.2, "momentum": 0.5, "nesterov": True},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_sgd_matches_keras_formula(settings):
    w0, grads = problem()
    actual = run_netfleet(SGD(**settings), w0, grads)
    assert_trajectories_close(actual, run_formula(keras_sgd, w0, grads, **settings))


@pytest.mark.parametrize("settings", SETTINGS)
def test_sgd_matches_torch_optim(settings):
    # torch's buffer is -1/learning_rate times Keras' velocity; the weights agree.
    torch_settings = {
        "lr": settings.get("learning_rate", 0.01),
        "momentum": settings.get("momentum", 0.0),
        "nesterov": settings.get("nesterov", False),
    }
    w0, grads = problem()
    actual = run_netfleet(SGD(**settings), w0, grads)
    assert_trajectories_close(actual, run_torch(torch.optim.SGD, w0, grads, **torch_settings))


def test_sgd_matches_keras_golden_values():
    np.testing.assert_allclose(
        keras_single_step(SGD(learning_rate=0.5)), [0.5, -1.0, -0.5, 3.0], atol=1e-4
    )
    golden = [0.9999, 0.9989, 0.9979, 0.9969, 0.9959]
    actual = keras_golden_run(SGD(nesterov=True))
    np.testing.assert_allclose(actual[:, 0], golden, atol=5e-4)
    np.testing.assert_allclose(actual[-1, -1], 0.9599, atol=5e-4)


def test_sgd_has_keras_defaults():
    assert SGD().get_config() == {
        "name": "sgd",
        "learning_rate": 0.01,
        "momentum": 0.0,
        "nesterov": False,
        **OPTIONS_OFF,
    }


def test_sgd_velocity_slot_exists_only_with_momentum():
    data = torch.zeros(2, 3)
    plain, heavy = SGD(), SGD(momentum=[0.0, 0.9])
    plain.build(data)
    heavy.build(data)
    assert plain.slots == {}
    assert heavy.slots["velocity"].shape == (2, 3)
