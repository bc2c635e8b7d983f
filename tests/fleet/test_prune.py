"""Successive halving in one fleet (`netfleet.fleet.halving`): the rung schedule and the
ranking are scikit-learn's; a group continued from a rung trains on exactly as one longer
run; and `sweep(..., prune=...)` drops the worst configurations at each rung while the
others train on, their numbers those of the unpruned sweep."""

import itertools
import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV
from sklearn.model_selection._search_successive_halving import _top_k

from netfleet import Sequential
from netfleet.callbacks import Callback, EarlyStopping
from netfleet.errors import InvalidArgumentError
from netfleet.fleet import sweep
from netfleet.fleet.halving import Halving, best_of, plan
from netfleet.fleet.runner import Group, Member, run_group, run_groups
from netfleet.layers import Dense, Dropout
from netfleet.models.model import Model
from netfleet.optimizers import SGD, Adam
from netfleet.utils import set_random_seed

COMPILE = {"optimizer": "sgd", "loss": "binary_crossentropy", "metrics": ["accuracy"]}


@pytest.fixture
def data(banknotes_split):
    X_train, _, y_train, _ = banknotes_split
    return X_train[:256], y_train[:256]


class PicklingExecutor:
    """Ships every group and result through pickle, as a Ray task would, and with
    `max_members` has larger groups cut into parts."""

    def __init__(self, max_members=None):
        self.max_members = max_members

    def map(self, fn, groups):
        fn = pickle.loads(pickle.dumps(fn))
        for group in groups:
            yield pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(group)))))


# -- the schedule and the ranking: scikit-learn's ------------------------------------------
class Rounds(BaseEstimator):
    """A do-nothing estimator whose `n_rounds` scikit-learn's halving search can spend."""

    def __init__(self, n_rounds=1, value=0):
        self.n_rounds = n_rounds
        self.value = value

    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def score(self, X, y=None):
        return float(self.value)


SCHEDULES = [
    # candidates, factor, min_resources, max_resources, aggressive_elimination
    (1, 3, "exhaust", 9, False),
    (2, 3, "exhaust", 9, False),
    (9, 3, "exhaust", 9, False),
    (10, 3, "exhaust", 10, False),
    (27, 3, "exhaust", 30, False),
    (28, 3, "smallest", 30, False),
    (81, 3, 1, 10, False),
    (81, 3, 1, 10, True),
    (30, 2, 2, 20, False),
    (30, 2, 2, 20, True),
    (7, 2.5, "exhaust", 20, False),
    (12, 4, "smallest", 100, True),
    (5, 3, 5, 5, True),
    (243, 3, "exhaust", 400, False),
]


@pytest.mark.parametrize(("n", "factor", "low", "high", "aggressive"), SCHEDULES)
def test_the_schedule_is_scikit_learns(n, factor, low, high, aggressive):
    search = HalvingGridSearchCV(
        Rounds(),
        {"value": list(range(n))},
        resource="n_rounds",
        factor=factor,
        min_resources=low,
        max_resources=high,
        aggressive_elimination=aggressive,
        cv=2,
        refit=False,
    ).fit(np.zeros((4, 1)))
    got = plan(
        n, factor=factor, min_resources=low, max_resources=high, aggressive_elimination=aggressive
    )
    assert list(got.resources) == search.n_resources_
    assert list(got.candidates) == search.n_candidates_
    assert got.remaining == search.n_remaining_candidates_
    assert got.min_resources == search.min_resources_
    assert got.max_resources == search.max_resources_
    assert got.required_iterations == search.n_required_iterations_
    assert got.possible_iterations == search.n_possible_iterations_


def test_the_kept_candidates_and_their_order_are_scikit_learns():
    rng = np.random.default_rng(0)
    for size, count in itertools.product([1, 2, 5, 12], [1, 2, 4]):
        count = min(count, size)
        scores = rng.integers(0, 4, size).astype(float)  # ties
        scores[rng.random(size) < 0.3] = np.nan
        results = {
            "iter": np.zeros(size, dtype=int),
            "mean_test_score": scores,
            "params": [{"i": i} for i in range(size)],
        }
        expected = [params["i"] for params in _top_k(results, count, 0)]
        assert best_of(scores, count) == expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"min_resources": 5, "max_resources": 3}, "start with min_resources=5"),
        ({"factor": 1, "max_resources": 3}, "'factor' argument of Halving must be a number > 1"),
        ({"factor": 0.5, "max_resources": 3}, "'factor' argument"),
        ({"min_resources": "most", "max_resources": 3}, "'min_resources' argument"),
        ({"max_resources": 0}, "'max_resources' argument"),
        ({"max_resources": 3, "aggressive_elimination": 1}, "'aggressive_elimination'"),
    ],
)
def test_schedules_that_cannot_work_are_refused(arguments, message):
    with pytest.raises(InvalidArgumentError, match=message):
        plan(9, **arguments)


# -- continued groups: exactly one longer run ------------------------------------------------
def model(seed, optimizer, rate=0.2):
    set_random_seed(seed)
    built = Sequential(
        [
            Dense(8, input_shape=(4,), activation="relu"),
            Dropout(rate),
            Dense(1, activation="sigmoid"),
        ]
    )
    built.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return built


def group(x, y, epochs, rows=None):
    """Three members that can be continued: two share a seed (one batch order), SGD with
    momentum and Adam."""
    optimizers = [SGD(0.1, momentum=0.9), Adam(0.01), Adam(0.003)]
    rows = rows or [None] * 3
    return Group(
        [model(seed, opt) for seed, opt in zip([0, 0, 1], optimizers)],
        [Member(m, epochs[m], 16, rows=rows[m]) for m in range(3)],
        x,
        y,
        fit={"verbose": 0, "validation_split": 0.25},
        continuable=True,
    )


def continued(first, x, y, epochs, rows=None, reached=2):
    """The group of `first`'s models and member states (which trained to `reached`), trained
    on to `epochs`."""
    fresh = group(x, y, epochs, rows)
    members = [
        Member(m.key, m.epochs, m.batch_size, m.rows, state=state)
        for m, state in zip(fresh.members, first.states)
    ]
    return Group(first.models, members, x, y, fresh.fit, initial_epoch=reached, continuable=True)


@pytest.mark.parametrize("own_rows", [False, True], ids=["shared-rows", "own-rows"])
def test_a_continued_group_trains_on_exactly_as_one_longer_run(data, own_rows):
    x, y = data
    rows = [np.arange(0, 200), np.arange(56, 256), np.arange(0, 256)] if own_rows else None
    whole = run_group(group(x, y, [2, 5, 4], rows))
    (first,) = run_groups([group(x, y, [2, 2, 2], rows)], executor=PicklingExecutor())
    (then,) = run_groups([continued(first, x, y, [2, 5, 4], rows)], executor=PicklingExecutor())
    for one, two in zip(whole.models, then.models, strict=True):
        for a, b in zip(one.get_weights(), two.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        assert one.history.epoch == two.history.epoch
        for key, values in one.history.history.items():
            np.testing.assert_array_equal(values, two.history.history[key])
    assert [len(m.history.epoch) for m in then.models] == [2, 5, 4]
    assert all(a.seconds <= b.seconds for a, b in zip(first.states, then.states))


def test_members_a_callback_stopped_stay_frozen_when_continued(data):
    x, y = data
    first_group = group(x, y, [4, 4, 4])
    stop = EarlyStopping(monitor="loss", min_delta=1.0, patience=0)  # stops all at epoch 2
    first_group.fit["callbacks"] = [stop]
    first = run_group(first_group)
    assert [state.stopped for state in first.states] == [True, True, True]
    before = [m.get_weights() for m in first.models]
    then = run_group(continued(first, x, y, [6, 6, 6], reached=4))
    assert [m.history.epoch for m in then.models] == [[0, 1]] * 3
    for weights, trained in zip(before, then.models):
        for a, b in zip(weights, trained.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_a_continuation_needs_every_members_state(data):
    x, y = data
    first = run_group(group(x, y, [2, 2, 2]))
    with pytest.raises(InvalidArgumentError, match="needs each member's state"):
        Group(first.models, group(x, y, [3, 3, 3]).members, x, y, initial_epoch=2)
    partly = [Member(0, 3, state=first.states[0]), Member(1, 3), Member(2, 3)]
    with pytest.raises(InvalidArgumentError, match="for every member of a Group or for none"):
        Group(first.models, partly, x, y, initial_epoch=2)
    early = [Member(m, 3, checkpoints=(1, 3), state=first.states[m]) for m in range(3)]
    with pytest.raises(InvalidArgumentError, match="checkpoints before the Group's initial"):
        Group(first.models, early, x, y, initial_epoch=2)


# -- sweep(..., prune=...) --------------------------------------------------------------------
def build(units=4):
    return Sequential(
        [Dense(units, input_shape=(4,), activation="relu"), Dense(1, activation="sigmoid")]
    )


GRID = {"units": [2, 8], "learning_rate": [0.003, 0.01, 0.03, 0.1, 0.3]}  # two architectures
FIT = {"batch_size": 32, "epochs": 6, "validation_split": 0.25}


class ActiveMembers(Callback):
    """Records, at each epoch, the fleet's size and the members training."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append((epoch, self.model.num_members, tuple(self.model.active_members)))


def test_pruned_sweep_drops_the_worst_at_each_rung_and_equals_the_full_sweep(data):
    x, y = data
    arguments = {"compile": COMPILE, "fit": FIT, "seed": 0}
    full = sweep(build, GRID, x, y, **arguments)
    prune = {"metric": "val_loss", "min_epochs": 1}
    shipped = PicklingExecutor(max_members=3)  # each architecture's 5 members in 2 parts
    pruned = sweep(build, GRID, x, y, prune=prune, **arguments, executor=shipped)
    # 10 configurations, factor 3, 6 epochs: rungs at 1 and 3 epochs (10 then 4 ranked),
    # the 2 best of the second rung train on to 6
    val_loss = np.array([h["val_loss"] for h in full.histories])
    first = set(np.argsort(val_loss[:, 0])[:4])
    second = set(sorted(first, key=lambda i: val_loss[i, 2])[:2])
    assert pruned.pruned == [
        None if i in second else 3 if i in first else 1 for i in range(len(full.configs))
    ]
    for history, whole, stop in zip(pruned.histories, full.histories, pruned.pruned):
        for key, values in whole.items():
            np.testing.assert_array_equal(history[key], values[: stop or len(values)])
    assert pruned.groups == full.groups and len(full.groups) == 2


def test_rungs_meet_across_architectures_and_dropped_members_are_frozen(data, monkeypatch):
    x, y = data
    fits, original = [], Model.fit

    def recording_fit(self, *args, **kwargs):
        fits.append((kwargs.get("initial_epoch", 0), kwargs["epochs"]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Model, "fit", recording_fit)
    recorder = ActiveMembers()
    fit = {**FIT, "callbacks": [recorder]}
    result = sweep(build, GRID, x, y, compile=COMPILE, fit=fit, seed=0, prune={"min_epochs": 1})
    assert fits == sorted(fits) and fits[:2] == [(0, 1), (0, 1)]
    assert fits[-1] == (3, 6) and {start for start, _ in fits} == {0, 1, 3}
    training = {}  # epoch -> members training then, over both fleets
    for epoch, members, active in recorder.seen:
        assert members == 5
        training[epoch] = training.get(epoch, 0) + len(active)
    assert training == {0: 10, 1: 4, 2: 4, 3: 2, 4: 2, 5: 2}
    assert sum(stop is None for stop in result.pruned) == 2


def test_prune_by_a_metric_to_maximise(data):
    x, y = data
    arguments = {"compile": COMPILE, "fit": {**FIT, "epochs": 3}, "seed": 0}
    full = sweep(build, GRID, x, y, **arguments)
    pruned = sweep(build, GRID, x, y, prune=Halving(metric="accuracy", min_epochs=1), **arguments)
    accuracy = np.array([h["accuracy"][0] for h in full.histories])
    kept = [i for i, stop in enumerate(pruned.pruned) if stop is None]
    dropped = [i for i, stop in enumerate(pruned.pruned) if stop is not None]
    assert len(kept) == 4 and min(accuracy[kept]) >= max(accuracy[dropped])
    assert set(kept) == set(best_of(accuracy, 4))


@pytest.fixture
def no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(Model, "fit", fail)


@pytest.mark.parametrize(
    ("prune", "fit", "message"),
    [
        ({"metric": "val_loss"}, {"epochs": 3}, "cannot prune by 'val_loss' without validation"),
        ({"min_epochs": 4}, {**FIT, "epochs": 3}, "min_epochs=4 epochs, more than"),
        ({"min_epochs": 0}, FIT, "'min_epochs' argument of Halving"),
        ({"factor": 1}, FIT, "'factor' argument of Halving must be a number > 1"),
        ({"mode": "up"}, FIT, "'mode' argument of Halving"),
        ({"patience": 2}, FIT, "'prune' argument of sweep got 'patience'"),
        ("halving", FIT, "'prune' argument of sweep must be a Halving or a dict"),
    ],
)
def test_prunes_that_cannot_work_fail_before_training(data, no_training, prune, fit, message):
    with pytest.raises(InvalidArgumentError, match=message):
        sweep(build, GRID, *data, compile=COMPILE, fit=fit, prune=prune)


def test_pruned_configurations_share_their_epochs(data, no_training, tmp_path):
    grid = {"units": [2, 8], "epochs": [2, 4]}
    with pytest.raises(InvalidArgumentError, match="Do not sweep 'epochs' with prune"):
        sweep(build, grid, *data, compile=COMPILE, fit=FIT, prune={})
    with pytest.raises(InvalidArgumentError, match="pass prune or results_dir"):
        sweep(build, GRID, *data, compile=COMPILE, fit=FIT, prune={}, results_dir=tmp_path)


def test_a_metric_that_is_not_logged_is_named(data):
    with pytest.raises(InvalidArgumentError, match="'val_auc', which is not logged. Logged: loss"):
        sweep(build, GRID, *data, compile=COMPILE, fit=FIT, prune={"metric": "val_auc"})
