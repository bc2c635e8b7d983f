"""Durable runs: a results directory keeps each group as it finishes; the same sweep or search
started again reads the finished groups back (the numbers of an uninterrupted run) and
trains only the others; a directory of another run is refused."""

import json
import os

import numpy as np
import pytest
from sklearn.model_selection import KFold

from netfleet.callbacks import Callback
from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.fleet import sweep
from netfleet.fleet.durable import ResultStore, decode, encode
from netfleet.fleet.runner import Group, Member, run_groups
from netfleet.sklearn import FleetSearchCV, NetClassifier

COMPILE = {"optimizer": "sgd", "loss": "binary_crossentropy", "metrics": ["accuracy"]}
# batch sizes 16 and 32 train apart for this model: three groups
GRID = {"batch_size": [16, 32, 128], "learning_rate": [0.05, 0.2], "epochs": [1, 2]}


class Interrupted(KeyboardInterrupt):
    """A run stopped on purpose, as Ctrl-C stops it (no search records it as a failed fit)."""


class CountFits(Callback):
    """Counts the fleets that start training; raises `Interrupted` past `interrupt_after`."""

    def __init__(self, interrupt_after=None):
        super().__init__()
        self.fits = 0
        self.interrupt_after = interrupt_after

    def on_train_begin(self, logs=None):
        self.fits += 1
        if self.interrupt_after is not None and self.fits > self.interrupt_after:
            raise Interrupted


@pytest.fixture
def data(banknotes_split):
    X_train, X_test, y_train, y_test = banknotes_split
    return X_train[:320], y_train[:320].astype("float32"), (X_test[:80], y_test[:80])


def run_sweep(build, data, *, grid=GRID, callback=None, **options):
    x, y, validation = data
    fit = {"callbacks": [callback]} if callback is not None else {}
    return sweep(
        build,
        grid,
        x,
        y,
        compile=COMPILE,
        fit=fit,
        validation_data=validation,
        seed=0,
        **options,
    )


def assert_same_sweeps(expected, got):
    assert got.groups == expected.groups and got.configs == expected.configs
    assert got.histories == expected.histories
    for mine, theirs in zip(got.models, expected.models, strict=True):
        assert mine.history.history == theirs.history.history
        assert mine.history.epoch == theirs.history.epoch
        assert mine.member_params == theirs.member_params
        for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


def test_an_interrupted_sweep_resumes_training_only_the_unfinished_groups(
    build_model, data, tmp_path
):
    expected = run_sweep(build_model, data, callback=CountFits())
    assert len(expected.groups) == 3
    with pytest.raises(Interrupted):
        run_sweep(build_model, data, callback=CountFits(interrupt_after=1), results_dir=tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["group-0000", "run.json"]
    count = CountFits()
    got = run_sweep(build_model, data, callback=count, results_dir=tmp_path)
    assert count.fits == 2
    assert_same_sweeps(expected, got)
    count = CountFits()
    again = run_sweep(build_model, data, callback=count, results_dir=tmp_path)
    assert count.fits == 0
    assert_same_sweeps(expected, again)


def test_every_finished_group_is_kept_as_safetensors_and_json(build_model, data, tmp_path):
    run_sweep(build_model, data, results_dir=tmp_path)
    assert sorted(os.listdir(tmp_path / "group-0001")) == ["group.json", "weights.safetensors"]
    assert not [name for _, _, names in os.walk(tmp_path) for name in names if ".tmp" in name]
    document = json.loads((tmp_path / "group-0001" / "group.json").read_text())
    assert set(document["histories"][0]["history"]) == {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
    }


def test_an_interrupted_search_resumes_with_the_scores_of_an_uninterrupted_one(data, tmp_path):
    x, y, _ = data
    estimator = NetClassifier(seed=0, hidden_layer_sizes=(4,))
    grid = {"epochs": [1, 2], "batch_size": [16, 128], "optimizer__learning_rate": [0.01, 0.1]}

    def search(callback, **options):
        return FleetSearchCV(
            estimator, grid, cv=KFold(3), return_train_score=True, refit=False, **options
        ).fit(x, y, callbacks=[callback])

    expected = search(CountFits())
    with pytest.raises(Interrupted):
        search(CountFits(interrupt_after=1), results_dir=tmp_path)
    count = CountFits()
    got = search(count, results_dir=tmp_path)
    assert count.fits == 1  # of the two groups (one per batch size)
    assert got.best_params_ == expected.best_params_
    for key, want in expected.cv_results_.items():
        if "_time" not in key and key != "params" and not key.startswith("param_"):
            np.testing.assert_array_equal(got.cv_results_[key], want, err_msg=key)


@pytest.mark.parametrize(
    ("change", "parts"),
    [
        ({"grid": {**GRID, "learning_rate": [0.05, 0.3]}}, "settings"),
        ({"units": 2}, "models"),
        ({"data": 0.5}, "data"),
        ({"fit": {"shuffle": False}}, "fit"),
    ],
    ids=["grid", "model", "data", "fit"],
)
def test_a_changed_run_is_refused_instead_of_mixing_results(
    build_model, data, tmp_path, change, parts
):
    run_sweep(build_model, data, callback=CountFits(), results_dir=tmp_path)
    x, y, validation = data
    if "data" in change:
        x = x.copy()
        x[0, 0] += change["data"]
    arguments = {"compile": COMPILE, "validation_data": validation, "seed": 0}
    arguments["fit"] = change.get("fit", {})

    def build():
        return build_model(units=change.get("units", 1), activation="sigmoid")

    count = CountFits()
    arguments["fit"] = {**arguments["fit"], "callbacks": [count]}
    with pytest.raises(InvalidArgumentError, match="holds the results of another run") as raised:
        sweep(build, change.get("grid", GRID), x, y, results_dir=tmp_path, **arguments)
    assert parts in str(raised.value).split(": its ")[1].split(" differ")[0]
    assert count.fits == 0


def test_a_folder_that_holds_no_run_is_refused(build_model, data, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InvalidArgumentError, match="not empty and holds no netfleet run"):
        run_sweep(build_model, data, results_dir=tmp_path)
    with pytest.raises(InvalidTypeError, match="results_dir must be a folder path"):
        run_sweep(build_model, data, results_dir=3)


def test_a_failed_group_is_not_kept_and_trains_again_when_resumed(build_model, data, tmp_path):
    x, y, _ = data

    def groups():
        models = []
        for _ in range(2):
            model = build_model()
            model.compile(**COMPILE)
            models.append(model)
        fine = Group([models[0]], [Member("fine", 1)], x, y, {"verbose": 0})
        bad = Group([models[1]], [Member("bad", 1)], x, y[:10], {"verbose": 0})  # 10 targets
        return [fine, bad]

    store = ResultStore(tmp_path)
    first = list(run_groups(groups(), store=store, record_errors=True))
    assert [result.error is None for result in first] == [True, False]
    assert sorted(os.listdir(tmp_path)) == ["group-0000", "run.json"]
    fine, bad = run_groups(groups(), store=store, record_errors=True)
    assert fine.keys == ["fine"] and fine.error is None
    assert bad.keys == ["bad"] and bad.error is not None
    assert sorted(os.listdir(tmp_path)) == ["group-0000", "run.json"]


def test_hook_records_come_back_as_they_were_returned():
    value = [
        ((0, 1), {"test_scores": np.float64(0.5), "fit_error": None, "n": np.int64(3)}),
        {(1, "a"): [np.nan, float("inf")], "__tuple__": "a key like a tag"},
        np.arange(3, dtype=np.float32),
        {"scores": {"accuracy": 1.0}},
    ]
    back = decode(json.loads(json.dumps(encode(value))))
    assert back[0] == value[0] and type(back[0][0]) is tuple
    assert list(back[1]) == [(1, "a"), "__tuple__"] and np.isnan(back[1][(1, "a")][0])
    assert back[2].dtype == np.float32 and list(back[2]) == [0, 1, 2]
    assert back[3] == value[3]
    with pytest.raises(InvalidTypeError, match="stores what the hook returns as JSON"):
        encode(object())
