"""The fleet runner: a group trains as one fleet yet each member ends as its separate run of
its own length, batch size and rows would; the hook sees members at their checkpoints; the
results come back per group, through any executor."""

import numpy as np
import pytest

from netfleet.callbacks import EarlyStopping
from netfleet.errors import InvalidArgumentError
from netfleet.fleet.runner import Group, LocalExecutor, Member, run_group, run_groups
from netfleet.models.model import Model
from netfleet.optimizers import SGD, Adam
from netfleet.utils import set_random_seed

OPTIMIZERS = [lambda: SGD(learning_rate=0.1), lambda: Adam(learning_rate=0.01)]


def compiled(build, seed, make_optimizer=OPTIMIZERS[0]):
    """A single model seeded as its separate run is."""
    set_random_seed(seed)
    model = build()
    model.compile(optimizer=make_optimizer(), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def alone(build, seed, x, y, make_optimizer=OPTIMIZERS[0], **arguments):
    """The separate run of one member."""
    model = compiled(build, seed, make_optimizer)
    history = model.fit(x, y, verbose=0, **arguments)
    return model, history


def assert_same_run(model, other, history):
    for mine, theirs in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    assert model.history.epoch == history.epoch
    for key, values in history.history.items():
        np.testing.assert_allclose(model.history.history[key], values, rtol=1e-5)


@pytest.fixture
def data(banknotes_split):
    X_train, _, y_train, _ = banknotes_split
    return X_train[:256], y_train[:256]


def test_members_with_their_own_epochs_batch_sizes_and_optimizers_equal_separate_runs(
    build_model, data
):
    x, y = data
    settings = [(0, 3, 16, 0), (1, 1, 32, 1), (2, 2, 16, 0)]  # key, epochs, batch size, optimizer
    group = Group(
        models=[compiled(build_model, key, OPTIMIZERS[o]) for key, _, _, o in settings],
        members=[
            Member(key, epochs, size, params={"key": key}) for key, epochs, size, _ in settings
        ],
        x=x,
        y=y,
        fit={"verbose": 0},
    )
    result = run_group(group)
    assert result.keys == [0, 1, 2] and result.error is None and result.records == []
    assert result.models == group.models
    for (key, epochs, size, o), model in zip(settings, result.models):
        own, history = alone(build_model, key, x, y, OPTIMIZERS[o], epochs=epochs, batch_size=size)
        assert_same_run(model, own, history)
        assert model.member_params == [{"key": key}]


def test_members_on_their_own_rows_hold_out_the_last_fraction_of_them(build_model, data):
    x, y = data
    rows = [np.arange(0, 160), np.random.default_rng(0).permutation(np.arange(96, 256))]
    group = Group(
        models=[compiled(build_model, seed) for seed in (0, 1)],
        members=[Member(seed, epochs=2, rows=rows[seed]) for seed in (0, 1)],
        x=x,
        y=y,
        fit={"verbose": 0, "validation_split": 0.25, "shuffle": False},
    )
    (result,) = run_groups([group])
    for seed, model in enumerate(result.models):
        own, history = alone(
            build_model,
            seed,
            x[rows[seed]],
            y[rows[seed]],
            epochs=2,
            validation_split=0.25,
            shuffle=False,
        )
        assert "val_loss" in history.history
        assert_same_run(model, own, history)


def test_the_hook_sees_each_member_at_its_checkpoints_with_its_weights_then(build_model, data):
    x, y = data
    seen = []

    def hook(checkpoint):
        seen.append((checkpoint.key, checkpoint.epoch))
        assert checkpoint.seconds >= 0
        return checkpoint.model.get_weights()

    group = Group(
        models=[compiled(build_model, seed) for seed in (0, 1)],
        members=[Member("a", 3, checkpoints=(0, 2, 3)), Member("b", 1, checkpoints=(1,))],
        x=x,
        y=y,
        fit={"verbose": 0},
    )
    result = run_group(group, hook)
    assert seen == [("a", 0), ("b", 1), ("a", 2), ("a", 3)]
    assert [(r.key, r.epoch) for r in result.records] == seen
    for record in result.records:
        seed = "ab".index(record.key)
        own = compiled(build_model, seed)
        if record.epoch:
            own.fit(x, y, epochs=record.epoch, verbose=0)
        for mine, theirs in zip(record.value, own.get_weights(), strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_a_member_stopped_early_is_seen_at_its_remaining_checkpoints_when_training_ends(
    build_model, data
):
    x, y = data
    stop = EarlyStopping(monitor="loss", min_delta=10.0, patience=0)  # stops after epoch 2
    group = Group(
        models=[compiled(build_model, 0)],
        members=[Member("a", 5, checkpoints=(1, 4, 5))],
        x=x,
        y=y,
        fit={"verbose": 0, "callbacks": [stop]},
    )
    result = run_group(group, lambda checkpoint: checkpoint.model.get_weights())
    assert [(r.key, r.epoch) for r in result.records] == [("a", 1), ("a", 4), ("a", 5)]
    (model,) = result.models
    assert model.history.epoch == [0, 1]
    for record in result.records[1:]:
        for mine, theirs in zip(record.value, model.get_weights(), strict=True):
            np.testing.assert_array_equal(mine, theirs)


def test_results_come_back_per_group_in_the_order_the_executor_finishes(build_model, data):
    x, y = data

    class Reversed:
        """An executor that finishes the last group first."""

        def __init__(self):
            self.calls = 0

        def map(self, fn, groups):
            self.calls += 1
            for group in reversed(list(groups)):
                yield fn(group)

    groups = [
        Group([compiled(build_model, seed)], [Member(key, epochs=1)], x, y, {"verbose": 0})
        for seed, key in enumerate(("first", "second"))
    ]
    executor = Reversed()
    results = list(run_groups(groups, executor=executor))
    assert executor.calls == 1
    assert [r.keys for r in results] == [["second"], ["first"]]
    assert [r.models[0] for r in results] == [groups[1].models[0], groups[0].models[0]]
    assert list(LocalExecutor().map(len, [[1], [2, 3]])) == [1, 2]


def test_a_failed_group_raises_or_gives_back_its_traceback_and_records(build_model, data):
    x, y = data

    def groups():
        failing = Group(
            [compiled(build_model, 0)],
            [Member("bad", 2, checkpoints=(0, 2))],
            x,
            y,
            {"verbose": 0, "initial_epoch": -1},
        )
        fine = Group([compiled(build_model, 1)], [Member("good", 1)], x, y, {"verbose": 0})
        return [failing, fine]

    with pytest.raises(InvalidArgumentError, match="initial_epoch"):
        list(run_groups(groups(), lambda c: c.epoch))
    failed, fine = run_groups(groups(), lambda c: c.epoch, record_errors=True)
    assert failed.models is None and "initial_epoch" in failed.error
    assert failed.records == []
    assert fine.error is None and fine.models[0].history.epoch == [0]


def test_the_group_counts_reach_fit(build_model, data, monkeypatch):
    x, y = data
    calls = []
    original = Model.fit

    def counting_fit(self, *args, **kwargs):
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Model, "fit", counting_fit)
    members = [Member(0, 2, batch_size=16), Member(1, 4, batch_size=64)]
    run_group(Group([compiled(build_model, s) for s in (0, 1)], members, x, y, {"verbose": 0}))
    (arguments,) = calls
    assert arguments["epochs"] == 4 and arguments["member_batch_sizes"] == [16, 64]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"members": []}, "one Member per model"),
        ({"fit": {"epochs": 3}}, "cannot set \\['epochs'\\]"),
        ({"rows": [np.arange(10), None]}, "rows for every member"),
        ({"fleet": True}, "models \\[0\\] are fleets"),
    ],
)
def test_a_group_that_cannot_run_is_refused_when_made(build_model, data, change, message):
    x, y = data
    models = [compiled(build_model, 0), compiled(build_model, 1)]
    if change.get("fleet"):
        models[0].compile(optimizer=SGD(learning_rate=[0.1, 0.2]), loss="binary_crossentropy")
    rows = change.get("rows", [None, None])
    members = change.get("members", [Member(i, 1, rows=rows[i]) for i in range(2)])
    with pytest.raises(InvalidArgumentError, match=message):
        Group(models, members, x, y, change.get("fit", {}))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"epochs": -1}, "'epochs' argument of Member"),
        ({"epochs": 2, "batch_size": 0}, "'batch_size' argument of Member"),
        ({"epochs": 2, "checkpoints": (1, 3)}, "'checkpoints' argument of Member"),
    ],
)
def test_bad_member_settings_are_refused(arguments, message):
    with pytest.raises(InvalidArgumentError, match=message):
        Member("key", **arguments)
