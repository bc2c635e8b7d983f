"""MixedOptimizer: each part updates its own rows of the buffer exactly as it would alone,
frozen members keep their state, and the parts survive configs and `optimizers.get`."""

import json

import numpy as np
import pytest
import torch

from netfleet.errors import InvalidArgumentError
from netfleet.optimizers import SGD, Adagrad, Adam, Lion, MixedOptimizer, RMSprop, get
from netfleet.optimizers.schedules import ExponentialDecay

from .oracle import OPTIONS_OFF, assert_trajectories_close, problem, run_netfleet


def parts():
    return [
        (SGD(learning_rate=0.05, momentum=0.9, nesterov=True), 1),
        (Adam(learning_rate=[0.01, 0.1]), 2),
        (Adagrad(learning_rate=0.1), 1),
        (RMSprop(learning_rate=0.01, centered=True), 1),
    ]


def separate(w0, grads, active=None):
    """Each part alone on its rows, stacked back in member order."""
    trajectories, start = [], 0
    for optimizer, count in parts():
        rows = slice(start, start + count)
        part_active = None if active is None else active[rows]
        trajectories.append(run_netfleet(optimizer, w0[rows], grads[:, rows], part_active))
        start += count
    return np.concatenate(trajectories, axis=1)


def test_each_part_follows_its_own_rule_on_its_rows():
    w0, grads = problem(members=5)
    mixed = MixedOptimizer(parts())
    assert_trajectories_close(run_netfleet(mixed, w0, grads), separate(w0, grads))


def test_frozen_members_keep_their_weights_and_state():
    w0, grads = problem(members=5)
    active = torch.tensor([True, False, True, True, False])
    mixed = MixedOptimizer(parts())
    trajectory = run_netfleet(mixed, w0, grads, active)
    assert_trajectories_close(trajectory, separate(w0, grads, active))
    np.testing.assert_array_equal(trajectory[-1][[1, 4]], w0[[1, 4]].astype(np.float32))
    assert mixed.iterations.flatten().tolist() == [20, 0, 20, 20, 0]


def test_the_parts_share_the_buffer_and_one_step_count():
    mixed = MixedOptimizer(parts())
    data = torch.zeros(5, 3)
    mixed.build(data)
    assert mixed.is_built_for(data)
    assert mixed.iterations.shape == (5, 1)
    for (part, _), (start, end) in zip(mixed.parts, mixed.bounds):
        assert part.iterations.data_ptr() == mixed.iterations[start:end].data_ptr()
    assert sorted(mixed.slots) == [
        "part0/velocity",
        "part1/m",
        "part1/v",
        "part2/accumulator",
        "part3/average_gradient",
        "part3/velocity",
    ]
    assert mixed.slots["part1/m"].shape == (2, 3)


def test_members_describe_their_own_optimizer():
    mixed = MixedOptimizer(parts())
    assert mixed.num_members == 5
    assert mixed.member_params == [
        {"optimizer": "SGD"},
        {"optimizer": "Adam", "learning_rate": 0.01},
        {"optimizer": "Adam", "learning_rate": 0.1},
        {"optimizer": "Adagrad"},
        {"optimizer": "RMSprop"},
    ]
    config = mixed.member_config(2)
    assert config["class_name"] == "Adam"
    rebuilt = get(config)
    assert type(rebuilt) is Adam
    assert rebuilt.member_config(0) == Adam(learning_rate=0.1).member_config(0)
    assert mixed.member_config(0)["config"] == SGD(
        learning_rate=0.05, momentum=0.9, nesterov=True
    ).member_config(0)
    assert list(mixed.hyperparameters) == ["learning_rate", *OPTIONS_OFF]
    assert mixed.learning_rate == [0.05, 0.01, 0.1, 0.1, 0.01]


def test_a_part_with_fewer_members_repeats_them():
    mixed = MixedOptimizer([(SGD(learning_rate=[0.1, 0.2]), 4), (Adam(), 1)])
    assert mixed.member_values("learning_rate", 5) == [0.1, 0.2, 0.1, 0.2, 0.001]


def test_config_round_trip_through_json_and_get():
    mixed = MixedOptimizer(parts(), name="grid")
    config = json.loads(json.dumps({"class_name": "MixedOptimizer", "config": mixed.get_config()}))
    rebuilt = get(config)
    assert isinstance(rebuilt, MixedOptimizer)
    assert rebuilt.name == "grid"
    assert rebuilt.get_config() == mixed.get_config()
    assert [type(p) for p, _ in rebuilt.parts] == [SGD, Adam, Adagrad, RMSprop]
    w0, grads = problem(members=5)
    assert_trajectories_close(run_netfleet(rebuilt, w0, grads), separate(w0, grads))


def test_learning_rate_can_be_set_for_all_members_or_each():
    mixed = MixedOptimizer(parts())
    mixed.build(torch.zeros(5, 2))
    mixed.learning_rate = 0.5
    assert mixed.learning_rate == 0.5
    mixed.learning_rate = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert mixed.learning_rate == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert mixed.parts[1][0].h["learning_rate"].flatten().tolist() == pytest.approx([0.2, 0.3])
    with pytest.raises(InvalidArgumentError, match="a list of 5 values"):
        mixed.learning_rate = [0.1, 0.2]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "non-empty list"),
        ([SGD()], r"\(optimizer, member_count\) pairs"),
        ([("sgd", 1)], "single-kind Optimizer"),
        ([(MixedOptimizer([(SGD(), 1)]), 1)], "single-kind Optimizer"),
        ([(SGD(), 0)], "member count >= 1"),
        ([(SGD(learning_rate=[0.1, 0.2]), 3)], "do not repeat to fill its 3 members"),
    ],
)
def test_bad_parts_are_clear_errors(arguments, message):
    with pytest.raises(InvalidArgumentError, match=message):
        MixedOptimizer(arguments)


def test_building_for_another_member_count_is_an_error():
    with pytest.raises(InvalidArgumentError, match="describes 5 members but the model has 4"):
        MixedOptimizer(parts()).build(torch.zeros(4, 3))


def test_parts_with_schedules_and_keras_options_follow_their_own_runs():
    schedule = ExponentialDecay([0.1, 0.05], decay_steps=3, decay_rate=0.5)
    parts = [
        (SGD(learning_rate=schedule, momentum=0.9, clipnorm=0.5), 2),
        (Lion(learning_rate=0.01, weight_decay=0.1, global_clipnorm=1.0), 1),
    ]
    mixed = MixedOptimizer(parts)
    segments = [(0, 6), (6, 13)]
    w0, grads = problem(members=3)
    together = run_netfleet(mixed, w0, grads, segments=segments)
    for member in range(3):
        config = mixed.member_config(member)
        alone = get(config)
        expected = run_netfleet(
            alone, w0[member : member + 1], grads[:, member : member + 1], segments=segments
        )
        np.testing.assert_array_equal(together[:, member : member + 1], expected)
    assert mixed.member_params == [
        {"optimizer": "SGD", "initial_learning_rate": 0.1},
        {"optimizer": "SGD", "initial_learning_rate": 0.05},
        {"optimizer": "Lion"},
    ]
