"""AdamW against Keras' formula (Adam after decoupled weight decay), Keras 3 itself and
Keras' own golden values."""

import numpy as np
import pytest

from netfleet.optimizers import Adam, AdamW, get

from .oracle import (
    KERAS_TOLERANCE,
    assert_trajectories_close,
    keras_adam,
    keras_golden_run,
    keras_single_step,
    problem,
    run_formula,
    run_keras,
    run_netfleet,
)

SETTINGS = [
    {},
    {"learning_rate": 0.05, "weight_decay": 0.1},
    {"learning_rate": 0.1, "weight_decay": 0.5, "beta_1": 0.5, "epsilon": 1e-3, "amsgrad": True},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_adamw_matches_keras_formula(settings):
    config = AdamW(**settings).member_config(0)
    w0, grads = problem()
    actual = run_netfleet(AdamW(**settings), w0, grads)
    assert_trajectories_close(actual, run_formula(keras_adam, w0, grads, **config))


@pytest.mark.parametrize("settings", SETTINGS)
def test_adamw_matches_keras_itself(settings):
    w0, grads = problem()
    actual = run_netfleet(AdamW(**settings), w0, grads)
    assert_trajectories_close(actual, run_keras("AdamW", settings, w0, grads), KERAS_TOLERANCE)


def test_adamw_is_adam_with_its_weight_decay():
    w0, grads = problem()
    np.testing.assert_array_equal(
        run_netfleet(AdamW(learning_rate=0.01), w0, grads),
        run_netfleet(Adam(learning_rate=0.01, weight_decay=0.004), w0, grads),
    )


def test_adamw_matches_keras_golden_values():
    np.testing.assert_allclose(
        keras_single_step(AdamW(learning_rate=0.5)), [0.4980, 1.4960, 2.494, 3.492], atol=1e-4
    )
    golden = [
        [0.4998] * 10,
        [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
        [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
        [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
        [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159],
    ]
    actual = keras_golden_run(AdamW(learning_rate=1.0, weight_decay=0.5, epsilon=2.0))
    np.testing.assert_allclose(actual, golden, rtol=5e-4, atol=5e-4)


def test_adamw_has_keras_defaults_and_name():
    assert AdamW().get_config() == {
        "name": "adamw",
        "learning_rate": 0.001,
        "weight_decay": 0.004,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
        "clipnorm": None,
        "clipvalue": None,
        "global_clipnorm": None,
    }
    assert type(get("adamw")) is AdamW
    assert AdamW(0.01, 0.1).get_config()["weight_decay"] == 0.1  # Keras' positional order
