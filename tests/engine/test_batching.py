"""BatchPlan with one batch size per member, and `fit(member_batch_sizes=...)`: each member
walks its own order in steps of its own batch size, as a separate run of that size does."""

import numpy as np
import pytest
import torch

from netfleet.engine.batching import BatchPlan
from netfleet.errors import InvalidArgumentError
from netfleet.fleet import stack
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.utils import set_random_seed

BATCH_SIZES = [16, 32, 64, 128]


def plan(sizes, rows=None, members=None, shuffle=False, seeds=None):
    members = members or len(sizes)
    rows = torch.arange(10) if rows is None else rows
    seeds = seeds or [0] * members
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    return BatchPlan(rows, members, sizes, shuffle, generators, seeds)


def real_rows(batch, member):
    """The indices of `member`'s real rows in `batch`."""
    idx = batch.idx[member]
    return idx[batch.mask[member].bool()].tolist()


# -- the plan ----------------------------------------------------------------------------------
def test_each_member_steps_through_its_rows_in_its_own_batch_size():
    batches = plan([2, 3, 5]).epoch()
    assert len(batches) == 5 == plan([2, 3, 5]).steps
    expected = [
        [[0, 1], [0, 1, 2], [0, 1, 2, 3, 4]],
        [[2, 3], [3, 4, 5], [5, 6, 7, 8, 9]],
        [[4, 5], [6, 7, 8], []],
        [[6, 7], [9], []],
        [[8, 9], [], []],
    ]
    for batch, rows in zip(batches, expected):
        assert [real_rows(batch, m) for m in range(3)] == rows
    assert [tuple(b.idx.shape) for b in batches] == [(3, 5), (3, 5), (3, 3), (3, 2), (3, 2)]
    assert batches[0].mask.tolist() == [[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert [b.active for b in batches[:2]] == [None, None]
    assert [b.active.tolist() for b in batches[2:]] == [
        [True, True, False],
        [True, True, False],
        [True, False, False],
    ]
    assert [b.count().tolist() for b in batches[2:]] == [[2, 3, 0], [2, 1, 0], [2, 0, 0]]


def test_a_member_sees_the_order_a_separate_plan_of_its_batch_size_gives():
    seeds = [3, 4, 3]
    sizes = [2, 4, 3]
    rows = [torch.arange(12), torch.arange(5, 12), torch.arange(12)]
    fleet = BatchPlan(
        rows, 3, sizes, True, [torch.Generator().manual_seed(s) for s in seeds], seeds
    )
    batches = fleet.epoch()
    for m in range(3):
        alone = BatchPlan(
            rows[m], 1, sizes[m], True, [torch.Generator().manual_seed(seeds[m])], [0]
        )
        expected = [b.idx.tolist() for b in alone.epoch()]
        got = [real_rows(b, m) for b in batches]
        assert got[: len(expected)] == expected
        assert not any(got[len(expected) :])


def test_one_batch_size_and_row_count_keep_the_unpadded_paths():
    shared = plan([4, 4, 4]).epoch()
    assert [b.idx.tolist() for b in shared] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(b.shared and b.mask is None and b.active is None for b in shared)
    own = plan(4, members=2, seeds=[1, 2], shuffle=True).epoch()
    assert all(b.idx.shape[0] == 2 and b.mask is None and b.active is None for b in own)


def test_different_row_counts_with_one_batch_size_are_padded_per_step():
    batches = plan(4, rows=[torch.arange(10), torch.arange(3)], members=2).epoch()
    assert [b.idx.shape[1] for b in batches] == [4, 4, 2]
    assert batches[0].mask.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert batches[0].active is None
    assert [b.active.tolist() for b in batches[1:]] == [[True, False], [True, False]]


# -- fit ---------------------------------------------------------------------------------------------
def logistic(seed):
    set_random_seed(seed)
    model = Sequential([Dense(1, input_shape=(4,), activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("seeds", [[0] * 4, [0, 1, 2, 3]], ids=["shared_order", "own_orders"])
def test_a_fleet_of_batch_sizes_equals_separate_runs(banknotes_split, seeds):
    X_train, X_test, y_train, y_test = banknotes_split
    fleet = stack([logistic(seed) for seed in seeds])
    history = fleet.fit(
        X_train,
        y_train,
        epochs=3,
        verbose=0,
        member_batch_sizes=BATCH_SIZES,
        validation_data=(X_test, y_test),
    )
    weights = fleet.get_weights()
    for m, (seed, size) in enumerate(zip(seeds, BATCH_SIZES)):
        model = logistic(seed)
        alone = model.fit(
            X_train, y_train, batch_size=size, epochs=3, verbose=0, validation_data=(X_test, y_test)
        )
        assert set(history.history) == set(alone.history)
        for key, values in alone.history.items():
            np.testing.assert_allclose(history.member(m).history[key], values, rtol=1e-5)
        for mine, theirs in zip(weights, model.get_weights(), strict=True):
            np.testing.assert_allclose(mine[m], theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "sizes",
    [[16, 32], [16, 32, 0], (16, 32, 1.5), 16, "abc"],
    ids=["short", "zero", "float", "int", "str"],
)
def test_member_batch_sizes_must_be_one_positive_int_per_member(banknotes_split, sizes):
    X_train, _, y_train, _ = banknotes_split
    fleet = stack([logistic(0) for _ in range(3)])
    with pytest.raises(InvalidArgumentError, match="'member_batch_sizes' argument of fit"):
        fleet.fit(X_train, y_train, verbose=0, member_batch_sizes=sizes)
