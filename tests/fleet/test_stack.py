"""stack / unstack across optimizer kinds: a fleet with a MixedOptimizer trains each member
as its separate run would (EarlyStopping included), unstacks into each member's own
optimizer, and saves and resumes like any fleet."""

import numpy as np
import pytest

from netfleet.callbacks import EarlyStopping
from netfleet.fleet import stack, unstack
from netfleet.optimizers import SGD, Adagrad, Adam, MixedOptimizer, RMSprop
from netfleet.saving import load_model
from netfleet.utils import set_random_seed

OPTIMIZERS = [
    lambda: SGD(learning_rate=0.1, momentum=0.5),
    lambda: Adam(learning_rate=0.01),
    lambda: Adagrad(learning_rate=0.05),
    lambda: RMSprop(learning_rate=0.01),
]


def compiled(build, make_optimizer, seed=0):
    set_random_seed(seed)
    model = build()
    model.compile(optimizer=make_optimizer(), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def assert_same_weights(a, b, member=None):
    for mine, theirs in zip(a.get_weights(), b.get_weights(), strict=True):
        mine = mine if member is None else mine[member]
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_different_kinds_stack_into_a_mixed_fleet_and_unstack_into_their_own(build_model):
    models = [
        compiled(build_model, make, seed) for seed, make in enumerate([*OPTIMIZERS, OPTIMIZERS[0]])
    ]
    fleet = stack(models)
    optimizer = fleet.compiled.optimizer
    assert isinstance(optimizer, MixedOptimizer)
    assert [(type(part).__name__, count) for part, count in optimizer.parts] == [
        ("SGD", 1),
        ("Adam", 1),
        ("Adagrad", 1),
        ("RMSprop", 1),
        ("SGD", 1),
    ]
    assert fleet.member_seeds == [m.seed for m in models]
    singles = unstack(fleet)
    for model, single in zip(models, singles, strict=True):
        assert type(single.compiled.optimizer) is type(model.compiled.optimizer)
        assert single.compiled.optimizer.member_config(0) == model.compiled.optimizer.member_config(
            0
        )
        assert_same_weights(single, model)


def test_one_kind_keeps_its_own_optimizer_and_a_mixed_fleet_stacks_again(build_model):
    fleet = stack(
        [
            compiled(build_model, OPTIMIZERS[0]),
            compiled(build_model, lambda: SGD(learning_rate=0.3)),
        ]
    )
    assert type(fleet.compiled.optimizer) is SGD
    assert fleet.compiled.optimizer.learning_rate == [0.1, 0.3]
    mixed = stack(
        [
            compiled(build_model, OPTIMIZERS[1]),
            compiled(build_model, OPTIMIZERS[1]),
            compiled(build_model, OPTIMIZERS[2]),
        ]
    )
    again = stack([mixed, fleet])
    parts = again.compiled.optimizer.parts
    assert [(type(part).__name__, count) for part, count in parts] == [
        ("Adam", 2),
        ("Adagrad", 1),
        ("SGD", 2),
    ]
    kinds = [type(single.compiled.optimizer).__name__ for single in unstack(again)]
    assert kinds == ["Adam", "Adam", "Adagrad", "SGD", "SGD"]


def callbacks(early_stopping):
    return [EarlyStopping(monitor="loss", min_delta=0.02, patience=0)] if early_stopping else []


@pytest.mark.parametrize("early_stopping", [False, True], ids=["all_epochs", "early_stopping"])
def test_a_mixed_fleet_equals_separate_runs(banknotes_split, build_model, early_stopping):
    X_train, _, y_train, _ = banknotes_split
    arguments = {"batch_size": 32, "epochs": 6, "verbose": 0}
    fleet = stack([compiled(build_model, make, seed) for seed, make in enumerate(OPTIMIZERS)])
    history = fleet.fit(X_train, y_train, callbacks=callbacks(early_stopping), **arguments)
    singles = [compiled(build_model, make, seed) for seed, make in enumerate(OPTIMIZERS)]
    alone = [
        single.fit(X_train, y_train, callbacks=callbacks(early_stopping), **arguments)
        for single in singles
    ]
    if early_stopping:  # some member stops early, another trains on
        assert min(len(h.epoch) for h in alone) < 6 == max(len(h.epoch) for h in alone)
    for m, (single, own) in enumerate(zip(singles, alone)):
        member = history.member(m)
        assert member.epoch == own.epoch
        for key, values in own.history.items():
            np.testing.assert_allclose(member.history[key], values, rtol=1e-5)
        assert_same_weights(fleet, single, member=m)


def test_a_mixed_fleet_saves_and_resumes_like_its_members(banknotes_split, build_model, tmp_path):
    X_train, _, y_train, _ = banknotes_split
    fleet = stack([compiled(build_model, make, seed) for seed, make in enumerate(OPTIMIZERS)])
    fleet.fit(X_train, y_train, batch_size=64, epochs=1, verbose=0)
    fleet.save(tmp_path / "mixed.keras")
    loaded = load_model(tmp_path / "mixed.keras")
    assert isinstance(loaded.compiled.optimizer, MixedOptimizer)
    assert loaded.compiled.get_config() == fleet.compiled.get_config()
    assert loaded.member_params == fleet.member_params
    assert_same_weights(loaded, fleet)
    fleet.fit(X_train, y_train, batch_size=64, epochs=2, verbose=0)
    loaded.fit(X_train, y_train, batch_size=64, epochs=2, verbose=0)
    for mine, theirs in zip(loaded.get_weights(), fleet.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    saved = fleet.compiled.optimizer.slots
    for name, slot in loaded.compiled.optimizer.slots.items():
        np.testing.assert_array_equal(slot.numpy(), saved[name].numpy())
