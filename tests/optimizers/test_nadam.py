"""Nadam against Keras 3's formula, torch.optim.NAdam and Keras' own golden values."""

import numpy as np
import pytest
import torch

from netfleet.optimizers import Nadam

from .oracle import (
    OPTIONS_OFF,
    assert_trajectories_close,
    keras_golden_run,
    keras_nadam,
    keras_single_step,
    problem,
    run_formula,
    run_netfleet,
    run_torch,
)

SETTINGS = [
    {},
    {"learning_rate": 0.01},
    {"learning_rate": 0.05, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-4},
    {"learning_rate": 0.01, "beta_1": 0.99, "beta_2": 0.99, "epsilon": 0.0},
]


def torch_settings(settings):
    # torch's schedule is 0.96**(momentum_decay * t); Keras 3's is 0.96**t.
    return {
        "lr": settings.get("learning_rate", 0.001),
        "betas": (settings.get("beta_1", 0.9), settings.get("beta_2", 0.999)),
        "eps": settings.get("epsilon", 1e-7),
        "momentum_decay": 1.0,
    }


@pytest.mark.parametrize("settings", SETTINGS)
def test_nadam_matches_keras_formula(settings):
    w0, grads = problem()
    actual = run_netfleet(Nadam(**settings), w0, grads)
    assert_trajectories_close(actual, run_formula(keras_nadam, w0, grads, **settings))


@pytest.mark.parametrize("settings", SETTINGS)
def test_nadam_matches_torch_optim_with_keras_momentum_schedule(settings):
    w0, grads = problem()
    actual = run_netfleet(Nadam(**settings), w0, grads)
    expected = run_torch(torch.optim.NAdam, w0, grads, **torch_settings(settings))
    assert_trajectories_close(actual, expected)


def test_nadam_schedule_is_not_torchs_default():
    w0, grads = problem()
    actual = run_netfleet(Nadam(learning_rate=0.01), w0, grads)
    torch_default = run_torch(torch.optim.NAdam, w0, grads, lr=0.01, eps=1e-7)
    assert not np.allclose(actual, torch_default, rtol=1e-6, atol=1e-6)


def test_nadam_matches_keras_golden_values():
    actual = keras_single_step(Nadam(learning_rate=0.5))
    np.testing.assert_allclose(actual, [0.4686, 1.4686, 2.4686, 3.4686], atol=1e-4)
    golden = [
        [0.4281] * 10,
        [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
        [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
        [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
        [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454],
    ]
    optimizer = Nadam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5)
    np.testing.assert_allclose(keras_golden_run(optimizer), golden, rtol=5e-4, atol=5e-4)


def test_nadam_has_keras_defaults():
    assert Nadam().get_config() == {
        "name": "nadam",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        **OPTIONS_OFF,
    }


def test_nadam_keeps_one_momentum_product_per_member():
    optimizer = Nadam(beta_1=[0.5, 0.9])
    optimizer.build(torch.zeros(2, 4))
    assert optimizer.slots["u_product"].shape == (2, 1)
