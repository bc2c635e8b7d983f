"""RMSprop against Keras' formula, torch.optim.RMSprop and Keras' own golden values."""

import numpy as np
import pytest
import torch

from netfleet.optimizers import RMSprop

from .oracle import (
    OPTIONS_OFF,
    assert_trajectories_close,
    keras_golden_run,
    keras_rmsprop,
    keras_single_step,
    problem,
    run_formula,
    run_netfleet,
    run_torch,
)

SETTINGS = [
    {},
    {"learning_rate": 0.01, "rho": 0.8},
    {"learning_rate": 0.01, "momentum": 0.9},
    {"learning_rate": 0.01, "centered": True},
    {"learning_rate": 0.02, "rho": 0.5, "momentum": 0.5, "centered": True, "epsilon": 1e-3},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_rmsprop_matches_keras_formula(settings):
    w0, grads = problem()
    actual = run_netfleet(RMSprop(**settings), w0, grads)
    assert_trajectories_close(actual, run_formula(keras_rmsprop, w0, grads, **settings))


@pytest.mark.parametrize("settings", SETTINGS)
def test_rmsprop_matches_torch_optim_without_epsilon(settings):
    # Keras adds epsilon inside the square root, torch outside; they agree as epsilon -> 0
    # (Keras requires epsilon > 0, and 1e-30 vanishes next to v in float32).
    settings = {**settings, "epsilon": 1e-30}
    torch_settings = {
        "lr": settings.get("learning_rate", 0.001),
        "alpha": settings.get("rho", 0.9),
        "momentum": settings.get("momentum", 0.0),
        "centered": settings.get("centered", False),
        "eps": 0.0,
    }
    w0, grads = problem()
    actual = run_netfleet(RMSprop(**settings), w0, grads)
    assert_trajectories_close(actual, run_torch(torch.optim.RMSprop, w0, grads, **torch_settings))


def test_rmsprop_matches_keras_golden_values():
    # The docstring example: loss = var**2 / 2 from var = 10.
    actual = run_netfleet(RMSprop(learning_rate=0.1), np.array([[10.0]]), np.array([[[10.0]]]))
    np.testing.assert_allclose(actual[0, 0, 0], 9.683772, atol=1e-6)
    actual = keras_single_step(RMSprop(learning_rate=0.5))
    np.testing.assert_allclose(actual, [-0.5811, 0.4189, 1.4189, 2.4189], atol=1e-4)
    golden = np.tile([[0.9967], [0.9933], [0.9908], [0.9885], [0.9864]], (1, 10))
    np.testing.assert_allclose(keras_golden_run(RMSprop(centered=True)), golden, atol=5e-4)


def test_rmsprop_has_keras_defaults():
    assert RMSprop().get_config() == {
        "name": "rmsprop",
        "learning_rate": 0.001,
        "rho": 0.9,
        "momentum": 0.0,
        "epsilon": 1e-7,
        "centered": False,
        **OPTIONS_OFF,
    }


@pytest.mark.parametrize(
    ("settings", "slots"),
    [
        ({}, {"velocity"}),
        ({"momentum": 0.9}, {"velocity", "momentum"}),
        ({"centered": True}, {"velocity", "average_gradient"}),
        (
            {"momentum": [0.0, 0.5], "centered": [False, True]},
            {"velocity", "momentum", "average_gradient"},
        ),
    ],
)
def test_rmsprop_creates_momentum_and_average_slots_only_when_used(settings, slots):
    optimizer = RMSprop(**settings)
    optimizer.build(torch.zeros(optimizer.num_members, 5))
    assert set(optimizer.slots) == slots


@pytest.mark.parametrize(("name", "bad"), [("rho", 1.1), ("momentum", -0.1), ("epsilon", 0.0)])
def test_rmsprop_rejects_values_keras_rejects(name, bad):
    with pytest.raises(ValueError, match=name):
        RMSprop(**{name: bad})
    RMSprop(rho=1.0, momentum=1.0, epsilon=1e-12)  # Keras' boundary values are accepted
