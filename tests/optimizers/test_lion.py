"""Lion against Keras' formula, Keras 3 itself and Keras' own golden values."""

import numpy as np
import pytest

from netfleet.errors import InvalidArgumentError
from netfleet.optimizers import Lion, get

from .oracle import (
    KERAS_TOLERANCE,
    OPTIONS_OFF,
    assert_trajectories_close,
    keras_golden_run,
    keras_lion,
    keras_single_step,
    problem,
    run_formula,
    run_keras,
    run_netfleet,
)

SETTINGS = [
    {},
    {"learning_rate": 0.01},
    {"learning_rate": 0.05, "beta_1": 0.5, "beta_2": 0.67},
    {"learning_rate": 0.01, "beta_1": 1.0, "beta_2": 0.0},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_lion_matches_keras_formula(settings):
    w0, grads = problem()
    actual = run_netfleet(Lion(**settings), w0, grads)
    assert_trajectories_close(actual, run_formula(keras_lion, w0, grads, **settings))


@pytest.mark.parametrize("settings", SETTINGS)
def test_lion_matches_keras_itself(settings):
    w0, grads = problem()
    actual = run_netfleet(Lion(**settings), w0, grads)
    assert_trajectories_close(actual, run_keras("Lion", settings, w0, grads), KERAS_TOLERANCE)


def test_every_weight_moves_by_the_learning_rate():
    w0, grads = problem()
    moved = np.abs(np.diff(run_netfleet(Lion(learning_rate=0.01), w0, grads), axis=0))
    np.testing.assert_allclose(moved, 0.01, rtol=1e-4)


def test_lion_matches_keras_golden_values():
    actual = keras_single_step(Lion(learning_rate=0.5))
    np.testing.assert_allclose(actual, [0.5, 1.5, 2.5, 3.5], atol=1e-4)
    golden = np.tile([[0.999], [0.998], [0.997], [0.996], [0.995]], (1, 10))
    np.testing.assert_allclose(keras_golden_run(Lion()), golden, rtol=5e-4, atol=5e-4)


def test_lion_has_keras_defaults_and_bounds():
    assert Lion().get_config() == {
        "name": "lion",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.99,
        **OPTIONS_OFF,
    }
    assert type(get("lion")) is Lion
    for beta_1 in (0.0, -0.1, 1.5):
        with pytest.raises(
            InvalidArgumentError, match=r"'beta_1' argument of Lion .* \(0\.0, 1\.0\]"
        ):
            Lion(beta_1=beta_1)
