"""Keras 3's options on every optimizer (decoupled weight decay, clipnorm per weight,
global_clipnorm, clipvalue): against the documented formulas and Keras 3 itself, per member
in a fleet, set after build, through `fit`, and no extra work when none is set."""

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from netfleet.errors import InvalidArgumentError
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Lion,
    Nadam,
    RMSprop,
)
from netfleet.utils import set_random_seed

from .oracle import (
    FORMULAS,
    KERAS_TOLERANCE,
    assert_trajectories_close,
    problem,
    run_formula,
    run_keras,
    run_netfleet,
)

# Every rule with settings that use its state.
RULES = [
    (SGD, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    (RMSprop, {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    (Adam, {"learning_rate": 0.01, "amsgrad": True}),
    (AdamW, {"learning_rate": 0.01}),
    (Adagrad, {"learning_rate": 0.1}),
    (Adadelta, {"learning_rate": 1.0}),
    (Adamax, {"learning_rate": 0.01}),
    (Nadam, {"learning_rate": 0.01}),
    (Lion, {"learning_rate": 0.01}),
]
OPTIONS = [
    {"weight_decay": 0.1},
    {"clipnorm": 0.5},
    {"global_clipnorm": 0.8},
    {"clipvalue": 0.3},
    {"weight_decay": 0.05, "clipnorm": 1.0},
]
SEGMENTS = [(0, 6), (6, 10), (10, 13)]  # three weights in a row of 13 values


def rule_id(value):
    if isinstance(value, type):
        return value.__name__
    return "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None


@pytest.mark.parametrize("options", OPTIONS, ids=rule_id)
@pytest.mark.parametrize(("cls", "settings"), RULES, ids=rule_id)
def test_each_option_matches_the_keras_formula(cls, settings, options):
    config = {**cls(**settings).member_config(0), **options}
    w0, grads = problem()
    actual = run_netfleet(cls(**config), w0, grads, segments=SEGMENTS)
    expected = run_formula(FORMULAS[cls.__name__], w0, grads, segments=SEGMENTS, **config)
    assert_trajectories_close(actual, expected)


@pytest.mark.parametrize("options", OPTIONS, ids=rule_id)
@pytest.mark.parametrize(("cls", "settings"), RULES, ids=rule_id)
def test_each_option_matches_keras_itself_step_by_step(cls, settings, options):
    config = {**settings, **options}
    w0, grads = problem()
    actual = run_netfleet(cls(**config), w0, grads, segments=SEGMENTS)
    expected = run_keras(cls.__name__, config, w0, grads, segments=SEGMENTS)
    assert_trajectories_close(actual, expected, KERAS_TOLERANCE)


def test_clipnorm_clips_each_weight_by_its_own_norm():
    w0 = np.zeros((1, 5))
    grads = np.array([[[3.0, 4.0, 0.1, 0.0, 0.0]]])  # norms 5 and 0.1
    moved = run_netfleet(SGD(learning_rate=1.0, clipnorm=1.0), w0, grads, segments=[(0, 2), (2, 5)])
    np.testing.assert_allclose(moved[0, 0], [-0.6, -0.8, -0.1, 0.0, 0.0], rtol=1e-6)
    whole = run_netfleet(SGD(learning_rate=1.0, clipnorm=1.0), w0, grads)
    np.testing.assert_allclose(np.linalg.norm(whole[0, 0]), 1.0, rtol=1e-6)


# -- members ---------------------------------------------------------------------------------
FLEETS = [
    (SGD, {"learning_rate": 0.1, "clipnorm": [None, 0.5, 2.0]}),
    (Adam, {"learning_rate": 0.01, "weight_decay": [None, 0.1, 0.0]}),
    (RMSprop, {"learning_rate": 0.01, "clipvalue": [None, 0.3], "momentum": [0.0, 0.5]}),
    (Lion, {"learning_rate": 0.01, "global_clipnorm": [None, 1.0]}),
    (Adam, {"learning_rate": 0.01, "amsgrad": [False, True]}),
    (AdamW, {"weight_decay": [0.004, 0.1], "amsgrad": [True, False]}),
]


@pytest.mark.parametrize(("cls", "sweep"), FLEETS, ids=rule_id)
def test_each_member_with_its_own_options_follows_its_single_run_bitwise(cls, sweep):
    fleet = cls(**sweep)
    w0, grads = problem(members=fleet.num_members)
    together = run_netfleet(fleet, w0, grads, segments=SEGMENTS)
    for i in range(fleet.num_members):
        alone = cls(**fleet.member_config(i))
        expected = run_netfleet(alone, w0[i : i + 1], grads[:, i : i + 1], segments=SEGMENTS)
        np.testing.assert_array_equal(together[:, i : i + 1], expected)


def test_members_may_each_take_a_different_clipping_option():
    rows = [{"clipnorm": 1.0}, {"clipvalue": 0.5}, {"global_clipnorm": 0.8}, {}]
    fleet = SGD.for_members([{"learning_rate": 0.1, **row} for row in rows])
    w0, grads = problem(members=4)
    together = run_netfleet(fleet, w0, grads, segments=SEGMENTS)
    for i, row in enumerate(rows):
        expected = run_formula(
            FORMULAS["SGD"], w0[i : i + 1], grads[:, i : i + 1], SEGMENTS, learning_rate=0.1, **row
        )
        assert_trajectories_close(together[:, i : i + 1], expected)


def test_option_lists_cross_with_the_other_hyperparameters():
    optimizer = SGD(learning_rate=[0.01, 0.1], clipnorm=[None, 1.0])
    assert optimizer.num_members == 4
    assert optimizer.member_params == [
        {"learning_rate": 0.01, "clipnorm": None},
        {"learning_rate": 0.01, "clipnorm": 1.0},
        {"learning_rate": 0.1, "clipnorm": None},
        {"learning_rate": 0.1, "clipnorm": 1.0},
    ]
    assert optimizer.member_config(1)["clipnorm"] == 1.0


# -- refused settings ------------------------------------------------------------------------
def test_a_member_takes_at_most_one_clipping_option():
    message = "The 'clipvalue' argument of SGD must be None for a member whose clipnorm is set"
    with pytest.raises(InvalidArgumentError, match=message):
        SGD(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(InvalidArgumentError, match="global_clipnorm"):
        Adam(clipnorm=[None, 1.0], global_clipnorm=[None, 2.0])  # crossed: one member has both


def test_adamw_needs_a_weight_decay_and_lion_a_positive_beta_1():
    with pytest.raises(InvalidArgumentError, match="'weight_decay' argument of AdamW"):
        AdamW(weight_decay=None)
    with pytest.raises(InvalidArgumentError, match="'beta_1' argument of Lion"):
        Lion(beta_1=0.0)
    with pytest.raises(InvalidArgumentError, match="'clipnorm' argument of SGD"):
        SGD(clipnorm=0.0)


def test_set_hyperparameter_refuses_a_second_clipping_option_and_keeps_the_first():
    optimizer = SGD(clipnorm=1.0)
    with pytest.raises(InvalidArgumentError, match="clipvalue"):
        optimizer.set_hyperparameter("clipvalue", 0.5)
    assert optimizer.get_config()["clipvalue"] is None
    assert optimizer.get_config()["clipnorm"] == 1.0


# -- after build, in fit ---------------------------------------------------------------------
def test_an_option_set_after_build_takes_effect_at_the_next_step():
    optimizer = SGD(learning_rate=0.1)
    data = torch.ones(2, 3)
    optimizer.build(data)
    optimizer.set_hyperparameter("weight_decay", [0.5, 0.0])
    optimizer.apply(data, torch.zeros(2, 3))
    torch.testing.assert_close(data, torch.tensor([[0.95] * 3, [1.0] * 3]))
    optimizer.set_hyperparameter("weight_decay", None)
    assert optimizer._options is None


def test_fit_clips_each_weight_of_the_model_by_its_own_norm():
    set_random_seed(0)
    model = Sequential([Dense(3, input_shape=(4,), activation="tanh"), Dense(1)], seed=0)
    learning_rate, clipnorm = 0.5, 1e-4  # every weight's gradient is larger: all clipped
    model.compile(SGD(learning_rate=learning_rate, clipnorm=clipnorm), "mse")
    before = model.get_weights()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)), rng.normal(size=(16, 1))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    steps = [np.linalg.norm(after - old) for after, old in zip(model.get_weights(), before)]
    np.testing.assert_allclose(steps, [learning_rate * clipnorm] * 4, rtol=1e-3)


# -- no extra work without options ------------------------------------------------------------
class _RecordedOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize(("cls", "settings"), RULES, ids=rule_id)
def test_without_schedule_or_options_a_step_runs_only_the_rule(cls, settings):
    settings = {**settings, "weight_decay": 0.0} if cls is AdamW else settings
    w0, grads = problem(members=2)
    runs = []
    for through_apply in (True, False):
        optimizer = cls(**settings)
        data = torch.tensor(w0, dtype=torch.float32)
        optimizer.build(data)
        grad = torch.tensor(grads[0], dtype=torch.float32)
        with _RecordedOps() as recorded:
            if through_apply:
                optimizer.apply(data, grad)
            else:
                optimizer.iterations += 1
                optimizer.update(data, grad, optimizer.iterations)
        runs.append(recorded.names)
    assert runs[0] == runs[1]
