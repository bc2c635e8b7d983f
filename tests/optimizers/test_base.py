"""What every optimizer shares: list hyperparameters as fleets, frozen members, argument
checks, `get`, configs, and changing a hyperparameter after build."""

import json
import re

import numpy as np
import pytest
import torch

from netfleet import optimizers
from netfleet.errors import InvalidTypeError
from netfleet.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Lion,
    Nadam,
    Optimizer,
    RMSprop,
    get,
)

from .oracle import keras_sgd, problem, run_formula, run_netfleet

# Every rule with the options that give it the most state.
RULES = [
    (SGD, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    (RMSprop, {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    (Adam, {"learning_rate": 0.01}),
    (Adagrad, {"learning_rate": 0.1}),
    (Adadelta, {"learning_rate": 1.0}),
    (Adamax, {"learning_rate": 0.01}),
    (Nadam, {"learning_rate": 0.01}),
    (AdamW, {"learning_rate": 0.01, "amsgrad": True, "clipnorm": 0.5}),
    (Lion, {"learning_rate": 0.01, "global_clipnorm": 1.0}),
]

# Sweeps whose members mix the rule's options (a member without momentum beside members
# with it, centered beside plain, ...), three members each, and one product of two lists.
SWEEPS = [
    (SGD, {"learning_rate": [0.01, 0.1, 0.3]}),
    (SGD, {"momentum": [0.0, 0.5, 0.9], "nesterov": True, "learning_rate": 0.05}),
    (SGD, {"nesterov": [False, True, False], "momentum": 0.9}),
    (RMSprop, {"momentum": [0.0, 0.5, 0.9], "learning_rate": 0.01}),
    (RMSprop, {"centered": [False, True, False], "momentum": 0.5}),
    (RMSprop, {"rho": [0.5, 0.9, 0.99], "centered": True}),
    (Adam, {"beta_1": [0.0, 0.5, 0.9], "epsilon": 1e-3, "learning_rate": 0.1}),
    (Adagrad, {"initial_accumulator_value": [0.0, 0.1, 2.0], "learning_rate": 0.1}),
    (Adadelta, {"rho": [0.0, 0.9, 0.95], "learning_rate": 1.0}),
    (Adamax, {"beta_2": [0.5, 0.9, 0.999], "learning_rate": 0.1}),
    (Nadam, {"beta_1": [0.5, 0.9, 0.99], "learning_rate": 0.01}),
    (Nadam, {"learning_rate": [0.001, 0.01], "epsilon": [1e-7, 1e-3]}),
    (AdamW, {"weight_decay": [0.0, 0.004, 0.1], "learning_rate": 0.01}),
    (Lion, {"beta_2": [0.0, 0.9, 0.99], "clipvalue": [None, 0.5]}),
    (SGD, {"clipnorm": [None, 0.5], "weight_decay": [None, 0.1], "learning_rate": 0.1}),
]


def rule_id(value):
    return value.__name__ if isinstance(value, type) else None


def state_of(optimizer, data):
    return {
        "weights": data.clone(),
        "iterations": optimizer.iterations.clone(),
        **{name: slot.clone() for name, slot in optimizer.slots.items()},
    }


# -- members ---------------------------------------------------------------------------------
def test_a_list_hyperparameter_makes_one_member_per_value():
    optimizer = SGD(learning_rate=[0.01, 0.1])
    assert optimizer.num_members == 2
    assert optimizer.member_params == [{"learning_rate": 0.01}, {"learning_rate": 0.1}]


def test_several_lists_make_one_member_per_combination_in_product_order():
    optimizer = SGD(learning_rate=[0.01, 0.1], momentum=[0.0, 0.9])
    assert optimizer.num_members == 4
    assert optimizer.member_params == [
        {"learning_rate": 0.01, "momentum": 0.0},
        {"learning_rate": 0.01, "momentum": 0.9},
        {"learning_rate": 0.1, "momentum": 0.0},
        {"learning_rate": 0.1, "momentum": 0.9},
    ]
    optimizer.build(torch.zeros(4, 3))
    assert optimizer.h["learning_rate"].shape == (4, 1)
    assert optimizer.h["learning_rate"].flatten().tolist() == pytest.approx([0.01, 0.01, 0.1, 0.1])
    assert optimizer.h["momentum"].flatten().tolist() == pytest.approx([0.0, 0.9, 0.0, 0.9])
    assert optimizer.h["nesterov"].flatten().tolist() == [0.0] * 4


def test_scalar_hyperparameters_make_one_member():
    optimizer = Adam(learning_rate=0.01)
    assert optimizer.num_members == 1
    assert optimizer.member_params == [{}]


def test_build_rejects_a_model_whose_member_count_does_not_fit_the_sweep():
    with pytest.raises(ValueError, match="2 members.*3"):
        SGD(learning_rate=[0.01, 0.1]).build(torch.zeros(3, 4))


@pytest.mark.parametrize(("cls", "sweep"), SWEEPS, ids=rule_id)
def test_each_fleet_member_follows_bitwise_the_trajectory_it_would_follow_alone(cls, sweep):
    fleet = cls(**sweep)
    w0, grads = problem(members=fleet.num_members)
    together = run_netfleet(fleet, w0, grads)
    fixed = {key: value for key, value in sweep.items() if not isinstance(value, list)}
    for i, values in enumerate(fleet.member_params):
        alone = run_netfleet(cls(**fixed, **values), w0[i : i + 1], grads[:, i : i + 1])
        np.testing.assert_array_equal(together[:, i : i + 1], alone)


# -- frozen members --------------------------------------------------------------------------
@pytest.mark.parametrize(("cls", "settings"), RULES, ids=rule_id)
def test_frozen_members_keep_weights_slots_and_step_count(cls, settings):
    optimizer = cls(**settings)
    w0, grads = problem(members=3)
    data = torch.tensor(w0, dtype=torch.float32)
    optimizer.build(data)
    for g in grads[:3]:
        optimizer.apply(data, torch.tensor(g, dtype=torch.float32))
    before = state_of(optimizer, data)
    active = torch.tensor([True, False, True])
    for g in grads[3:6]:
        optimizer.apply(data, torch.tensor(g, dtype=torch.float32), active=active)
    after = state_of(optimizer, data)
    assert after["iterations"].flatten().tolist() == [6.0, 3.0, 6.0]
    for name in before:
        assert torch.equal(after[name][1], before[name][1]), name
        assert not torch.equal(after[name][0::2], before[name][0::2]), name


@pytest.mark.parametrize(("cls", "settings"), RULES, ids=rule_id)
def test_a_frozen_member_resumes_as_if_its_frozen_steps_never_happened(cls, settings):
    w0, grads = problem(members=3)
    frozen_steps = range(5, 10)
    active = torch.tensor([True, False, True])
    optimizer = cls(**settings)
    data = torch.tensor(w0, dtype=torch.float32)
    optimizer.build(data)
    for step, g in enumerate(grads):
        mask = active if step in frozen_steps else None
        optimizer.apply(data, torch.tensor(g, dtype=torch.float32), active=mask)
    seen = [step for step in range(len(grads)) if step not in frozen_steps]
    alone = run_netfleet(cls(**settings), w0[1:2], grads[seen][:, 1:2])
    np.testing.assert_array_equal(data[1:2].double().numpy(), alone[-1])


# -- argument checks -------------------------------------------------------------------------
def test_invalid_learning_rate_message_follows_the_sentence_template():
    expected = (
        "The 'learning_rate' argument of Adam must be a float > 0.0 or a LearningRateSchedule. "
        "Got -0.1."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        Adam(learning_rate=-0.1)


@pytest.mark.parametrize(
    ("cls", "kwargs", "got"),
    [
        (Adam, {"learning_rate": -0.1}, "-0.1"),
        (SGD, {"learning_rate": 0.0}, "0.0"),
        (SGD, {"momentum": 1.5}, "1.5"),
        (RMSprop, {"momentum": 1.5}, "1.5"),
        (RMSprop, {"rho": -0.5}, "-0.5"),
        (RMSprop, {"epsilon": 0.0}, "0.0"),
        (RMSprop, {"centered": "yes"}, "'yes'"),
        (SGD, {"nesterov": 1}, "1"),
        (Adam, {"beta_1": 1.0}, "1.0"),
        (Adam, {"epsilon": -1e-7}, "-1e-07"),
        (Nadam, {"beta_1": 1.0}, "1.0"),
        (Adamax, {"beta_2": -0.1}, "-0.1"),
        (Adadelta, {"rho": 1.0}, "1.0"),
        (Adagrad, {"initial_accumulator_value": -0.1}, "-0.1"),
        (Adam, {"learning_rate": "0.1"}, "'0.1'"),
        (Adam, {"learning_rate": None}, "None"),
        (Adam, {"learning_rate": True}, "True"),
        (Adam, {"learning_rate": float("nan")}, "nan"),
        (Adam, {"learning_rate": []}, "[]"),
        (Adam, {"learning_rate": [0.1, -0.2]}, "-0.2"),
    ],
)
def test_invalid_values_name_the_argument_and_the_value(cls, kwargs, got):
    (name,) = kwargs
    with pytest.raises((ValueError, TypeError)) as info:
        cls(**kwargs)
    message = str(info.value)
    assert f"'{name}'" in message
    assert cls.__name__ in message
    assert message.endswith(f"Got {got}.")


def test_positional_arguments_follow_keras_order():
    assert SGD(0.1).learning_rate == 0.1
    config = SGD(0.1, 0.9, True).get_config()
    assert (config["momentum"], config["nesterov"]) == (0.9, True)
    assert Adam(0.01, 0.8).get_config()["beta_1"] == 0.8
    with pytest.raises(InvalidTypeError, match="at most 7 positional arguments"):
        SGD(0.1, 0.9, True, None, None, None, None, 1)
    with pytest.raises(InvalidTypeError, match="'learning_rate' both by position and by name"):
        SGD(0.1, learning_rate=0.2)


def test_an_unknown_keyword_is_named_with_the_valid_ones():
    with pytest.raises((ValueError, TypeError), match="learnin_rate.*learning_rate"):
        Adam(learnin_rate=0.1)


# -- get, configs ----------------------------------------------------------------------------
@pytest.mark.parametrize("cls", list(optimizers.CLASSES.values()), ids=rule_id)
def test_get_accepts_the_keras_names(cls):
    assert type(get(cls.__name__)) is cls
    assert type(get(cls.__name__.lower())) is cls


def test_get_accepts_a_config_dict_an_instance_and_a_class():
    optimizer = get({"class_name": "Adam", "config": {"learning_rate": 0.01, "beta_1": [0.8, 0.9]}})
    assert type(optimizer) is Adam
    assert optimizer.learning_rate == 0.01
    assert optimizer.num_members == 2
    assert get(optimizer) is optimizer
    assert type(get(RMSprop)) is RMSprop


def test_get_suggests_the_closest_name():
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        get("adamm")
    with pytest.raises(ValueError, match="Unknown optimizer"):
        get({"class_name": "Adamm", "config": {}})
    with pytest.raises(TypeError):
        get(3)


def test_every_optimizer_is_exported_and_registered():
    for name in optimizers.__all__:
        assert hasattr(optimizers, name)
    exported = {getattr(optimizers, name) for name in optimizers.__all__}
    for cls in (SGD, RMSprop, Adam, AdamW, Adadelta, Adagrad, Adamax, Lion, Nadam):
        assert cls in exported
        assert optimizers.CLASSES[cls.__name__] is cls
        assert issubclass(cls, Optimizer)


@pytest.mark.parametrize(("cls", "sweep"), SWEEPS, ids=rule_id)
def test_config_round_trips_through_from_config_and_json(cls, sweep):
    optimizer = cls(**sweep)
    config = optimizer.get_config()
    assert cls.from_config(json.loads(json.dumps(config))).get_config() == config
    clone = get(optimizers.serialize(optimizer))
    assert type(clone) is cls
    assert clone.get_config() == config
    assert clone.member_params == optimizer.member_params


# -- hyperparameters after build -------------------------------------------------------------
def test_set_hyperparameter_after_build_changes_the_member_tensor():
    optimizer = SGD(learning_rate=[0.01, 0.1])
    data = torch.zeros(2, 3)
    optimizer.build(data)
    optimizer.set_hyperparameter("learning_rate", 0.5)
    assert torch.equal(optimizer.h["learning_rate"], torch.full((2, 1), 0.5))
    optimizer.apply(data, torch.ones(2, 3))
    assert torch.equal(data, torch.full((2, 3), -0.5))
    optimizer.set_hyperparameter("learning_rate", [0.25, 0.125])
    assert torch.equal(optimizer.h["learning_rate"], torch.tensor([[0.25], [0.125]]))
    optimizer.learning_rate = 0.05
    assert optimizer.learning_rate == 0.05
    assert torch.equal(optimizer.h["learning_rate"], torch.full((2, 1), 0.05))


def test_set_hyperparameter_rejects_invalid_values_and_keeps_the_old_ones():
    optimizer = Adam()
    optimizer.build(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="Got -1.0"):
        optimizer.set_hyperparameter("beta_1", -1.0)
    assert optimizer.h["beta_1"].item() == pytest.approx(0.9)


@pytest.mark.parametrize(("cls", "settings"), RULES[1:], ids=rule_id)
def test_state_lives_on_the_device_of_the_buffer(cls, settings):
    # The meta device stands in for a GPU: any CPU tensor mixed into the update fails.
    # (Not SGD: it reads its momentum tensor's values at build, which meta cannot.)
    data = torch.zeros(2, 5, device="meta")
    optimizer = cls(**settings)
    optimizer.build(data)
    tensors = [optimizer.iterations, *optimizer.h.values(), *optimizer.slots.values()]
    assert all(tensor.device == data.device for tensor in tensors)
    optimizer.apply(data, torch.zeros(2, 5, device="meta"))
    optimizer.set_hyperparameter("learning_rate", 0.5)
    assert optimizer.h["learning_rate"].device == data.device


@pytest.mark.parametrize(
    ("cls", "key", "value"),
    [(SGD, "momentum", 0.9), (RMSprop, "centered", True), (Adam, "amsgrad", True)],
    ids=rule_id,
)
def test_a_setting_that_needs_a_new_slot_takes_effect_after_build(cls, key, value):
    w0, grads = problem()
    optimizer = cls(learning_rate=0.01)
    data = torch.tensor(w0, dtype=torch.float32)
    optimizer.build(data)
    optimizer.apply(data, torch.tensor(grads[0], dtype=torch.float32))
    kept = {name: slot.clone() for name, slot in optimizer.slots.items()}
    optimizer.set_hyperparameter(key, value)
    assert all(torch.equal(optimizer.slots[name], slot) for name, slot in kept.items())
    for g in grads[1:]:
        optimizer.apply(data, torch.tensor(g, dtype=torch.float32))
    fresh = cls(learning_rate=0.01, **{key: value})
    fresh.build(torch.zeros(1, 13))
    assert set(optimizer.slots) == set(fresh.slots)


def test_momentum_set_after_build_steps_as_keras_from_then_on():
    w0, grads = problem()
    optimizer = SGD(learning_rate=0.05)
    data = torch.tensor(w0, dtype=torch.float32)
    optimizer.build(data)
    for g in grads[:5]:
        optimizer.apply(data, torch.tensor(g, dtype=torch.float32))
    middle = data.double().numpy().copy()
    optimizer.set_hyperparameter("momentum", 0.9)
    for g in grads[5:]:
        optimizer.apply(data, torch.tensor(g, dtype=torch.float32))
    expected = run_formula(keras_sgd, middle, grads[5:], learning_rate=0.05, momentum=0.9)
    np.testing.assert_allclose(data.double().numpy(), expected[-1], rtol=1e-5, atol=1e-6)
