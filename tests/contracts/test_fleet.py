"""Contract: a fleet of three trains as three single runs. Three single models that use an
entry, with their own seeds, are stacked into one fleet (`netfleet.fleet.stack`) before
training; the fleet and the three singles then train on the same data, and each member ends
with its single run's logs and weights, to float rounding. An entry that holds code cannot
be stacked; its fleet is one model compiled with three learning rates instead."""

import pytest

from netfleet.errors import InvalidArgumentError
from netfleet.fleet import stack
from netfleet.optimizers import SGD

from . import specs, trials

KINDS = ("layer", "activation", "initializer", "loss", "metric", "optimizer", "callback")
SEEDS = (11, 12, 13)
LEARNING_RATES = (0.1, 0.05, 0.02)


def _in_memory_only(kind, name, obj):
    return not specs.storable(kind, name, obj)


@pytest.mark.parametrize(("kind", "name", "obj"), specs.cases(*KINDS, where=specs.storable))
def test_a_stacked_fleet_of_three_trains_as_three_single_runs(kind, name, obj, tmp_path):
    members = specs.spec(kind, name).members
    optimizers = members() if members else [None] * len(SEEDS)
    singles = [
        trials.trial(kind, name, obj, tmp_path / f"single{seed}", seed=seed, optimizer=optimizer)
        for seed, optimizer in zip(SEEDS, optimizers)
    ]
    fleet = trials.Trial(
        stack([single.model for single in singles]),
        singles[0].x,
        singles[0].y,
        trials.trial(kind, name, obj, tmp_path / "fleet").callbacks,
    )
    assert fleet.model.num_members == len(SEEDS)
    if kind == "optimizer":
        assert type(fleet.model.compiled.optimizer) is obj
    history = fleet.fit()
    for member, single in enumerate(singles):
        trials.assert_same_training(history, fleet.model, single.fit(), single.model, member)


@pytest.mark.parametrize(("kind", "name", "obj"), specs.cases(*KINDS, where=_in_memory_only))
def test_a_fleet_of_an_entry_holding_code_trains_as_single_runs(kind, name, obj, tmp_path):
    singles = [
        trials.trial(kind, name, obj, tmp_path / f"single{i}", optimizer=SGD(learning_rate=rate))
        for i, rate in enumerate(LEARNING_RATES)
    ]
    with pytest.raises(InvalidArgumentError, match="never serializes code"):
        stack([single.model for single in singles])
    fleet = trials.trial(
        kind, name, obj, tmp_path / "fleet", optimizer=SGD(learning_rate=list(LEARNING_RATES))
    )
    assert fleet.model.num_members == len(LEARNING_RATES)
    history = fleet.fit()
    for member, single in enumerate(singles):
        trials.assert_same_training(history, fleet.model, single.fit(), single.model, member)
