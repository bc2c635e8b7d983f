"""FleetHalvingGridSearchCV and FleetHalvingRandomSearchCV, with scikit-learn's halving
searches as the oracle: scikit-learn trains every candidate from scratch to each
iteration's epochs, the fleet search keeps the survivors training where they are, and both
must give the same rungs, survivors and `cv_results_`."""

import pickle

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV, StratifiedKFold

from netfleet.layers import Dense
from netfleet.models import Model, Sequential
from netfleet.sklearn import (
    FleetHalvingGridSearchCV,
    FleetHalvingRandomSearchCV,
    NetClassifier,
    NetRegressor,
)

SCHEDULE = (
    "n_resources_",
    "n_candidates_",
    "n_remaining_candidates_",
    "min_resources_",
    "max_resources_",
    "n_iterations_",
    "n_possible_iterations_",
    "n_required_iterations_",
    "best_index_",
    "best_params_",
    "n_splits_",
)


def make_model(hidden_size=8, activation="relu"):
    """An uncompiled 13 -> hidden -> 3 softmax model (the wines' shape)."""
    return Sequential(
        [
            Dense(hidden_size, input_shape=(13,), activation=activation),
            Dense(3, activation="softmax"),
        ]
    )


def assert_same_search(expected, got):
    """`got` (a fleet halving search) has `expected`'s (scikit-learn's) rungs and results."""
    for name in SCHEDULE:
        assert getattr(got, name) == getattr(expected, name), name
    assert got.best_score_ == pytest.approx(expected.best_score_, abs=1e-6)
    assert list(got.cv_results_) == list(expected.cv_results_)
    for key, want in expected.cv_results_.items():
        have = got.cv_results_[key]
        if key == "params":
            assert have == want
        elif key.startswith("param_"):
            assert list(have) == list(want) and list(have.mask) == list(want.mask), key
        elif "_time" not in key:
            assert have.dtype == want.dtype, key
            np.testing.assert_allclose(have, want, rtol=0, atol=1e-6, err_msg=key)


CASES = {
    "architectures-in-four-fleets": (
        NetClassifier(make_model, seed=0, batch_size=16),
        {
            "hidden_size": [4, 8],
            "activation": ["relu", "tanh"],
            "optimizer__learning_rate": [0.003, 0.03],
        },
        {"max_resources": 9},
    ),
    "factor-2-from-one-epoch": (
        NetClassifier(make_model, seed=1, optimizer="sgd", batch_size=32),
        {"optimizer__learning_rate": [0.01, 0.03, 0.1, 0.3, 1.0]},
        {"max_resources": 8, "factor": 2, "min_resources": "smallest"},
    ),
    "aggressive-elimination-replays-the-first-rung": (
        NetClassifier(make_model, seed=2, batch_size=32),
        {"optimizer__learning_rate": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]},
        {"max_resources": 4, "factor": 2, "min_resources": 2, "aggressive_elimination": True},
    ),
    "regression": (
        NetRegressor(seed=0, batch_size=16, hidden_layer_sizes=(8,)),
        {"optimizer__learning_rate": [0.001, 0.01, 0.1], "hidden_layer_sizes": [(4,), (8,)]},
        {"max_resources": 6, "scoring": "neg_mean_squared_error", "return_train_score": False},
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_fleet_halving_gives_scikit_learns_rungs_survivors_and_results(wine_data, case):
    estimator, grid, options = CASES[case]
    X, y = wine_data
    if isinstance(estimator, NetRegressor):
        X, y = X[:, 1:], X[:, 0]
    else:
        options = {**options, "cv": StratifiedKFold(3, shuffle=True, random_state=0)}
    options = {"cv": 3, **options}
    expected = HalvingGridSearchCV(estimator, grid, resource="epochs", **options).fit(X, y)
    got = FleetHalvingGridSearchCV(estimator, grid, **options).fit(X, y)
    assert_same_search(expected, got)


def test_random_halving_samples_and_keeps_the_candidates_scikit_learn_does(wine_data):
    X, y = wine_data
    estimator = NetClassifier(make_model, seed=0, batch_size=16)
    distributions = {"hidden_size": [4, 8, 16], "optimizer__learning_rate": loguniform(1e-3, 1e-1)}
    options = {"max_resources": 9, "random_state": 0, "cv": StratifiedKFold(3)}
    expected = HalvingRandomSearchCV(estimator, distributions, resource="epochs", **options)
    got = FleetHalvingRandomSearchCV(estimator, distributions, **options)
    assert_same_search(expected.fit(X, y), got.fit(X, y))
    assert got.n_candidates_[0] == 9  # "exhaust": max_resources_ // min_resources_


class PicklingExecutor:
    """Ships the work (the scoring hook with it), every group and result through pickle, as
    Ray tasks would."""

    def map(self, fn, groups):
        fn = pickle.loads(pickle.dumps(fn))
        for group in groups:
            yield pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(group)))))


def test_rungs_ship_to_an_executor_as_plain_objects(wine_data):
    X, y = wine_data
    grid = {"hidden_size": [4, 8], "optimizer__learning_rate": [0.003, 0.01, 0.03]}
    options = {"max_resources": 4, "factor": 2, "cv": 3, "refit": False}
    local = FleetHalvingGridSearchCV(NetClassifier(make_model, seed=0), grid, **options)
    shipped = clone(local).set_params(executor=PicklingExecutor())
    assert_same_search(local.fit(X, y), shipped.fit(X, y))


def test_subsampled_iterations_match_scikit_learns_n_samples_resource(wine_data):
    X, y = wine_data
    estimator = NetClassifier(make_model, seed=0, epochs=2, batch_size=16)
    grid = {"hidden_size": [4, 8], "optimizer__learning_rate": [0.003, 0.01, 0.03]}
    options = {"resource": "n_samples", "random_state": 0, "cv": StratifiedKFold(3)}
    expected = HalvingGridSearchCV(estimator, grid, **options).fit(X, y)
    got = FleetHalvingGridSearchCV(estimator, grid, **options).fit(X, y)
    assert_same_search(expected, got)


def test_survivors_continue_from_the_last_rung_instead_of_retraining(wine_data, monkeypatch):
    X, y = wine_data
    fits = []
    original = Model.fit

    def recording_fit(self, *args, **kwargs):
        fits.append((kwargs.get("initial_epoch", 0), kwargs["epochs"], self.num_members))
        history = original(self, *args, **kwargs)
        fits[-1] += (len(self.active_members),)
        return history

    monkeypatch.setattr(Model, "fit", recording_fit)
    grid = {"optimizer__learning_rate": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]}
    search = FleetHalvingGridSearchCV(
        NetClassifier(make_model, seed=0), grid, max_resources=9, cv=3, refit=False
    ).fit(X, y)
    assert search.n_resources_ == [1, 3, 9] and search.n_candidates_ == [9, 3, 1]
    # one fleet of 9 candidates x 3 folds, continued from rung to rung; dropped members are
    # frozen (the run ends with no member training)
    assert fits == [(0, 1, 27, 0), (1, 3, 27, 0), (3, 9, 27, 0)]


def test_refit_trains_the_best_of_the_last_iteration_with_its_epochs(wine_data):
    X, y = wine_data
    grid = {"hidden_size": [4, 8, 16]}
    search = FleetHalvingGridSearchCV(
        NetClassifier(make_model, seed=0), grid, max_resources=4, cv=3
    ).fit(X, y)
    best = search.best_estimator_
    assert search.best_params_["epochs"] == search.n_resources_[-1] == best.epochs == 3
    assert best.history_.epoch == [0, 1, 2]
    assert search.best_index_ in np.flatnonzero(search.cv_results_["iter"] == 1)
    np.testing.assert_array_equal(search.predict(X), best.predict(X))
    assert clone(search).get_params()["resource"] == "epochs"


def test_max_resources_auto_are_the_estimators_epochs(wine_data, capsys):
    X, y = wine_data
    search = FleetHalvingGridSearchCV(
        NetClassifier(make_model, seed=0, epochs=4),
        {"hidden_size": [4, 8, 16, 32]},
        cv=3,
        refit=False,
        verbose=1,
    ).fit(X, y)
    assert search.max_resources_ == 4 and search.n_resources_ == [1, 3]
    out = capsys.readouterr().out
    assert "n_iterations: 2" in out and "totalling 12 fits as 4 batched runs" in out


@pytest.mark.filterwarnings("ignore:One or more of the (test|train) scores are non-finite")
def test_failed_candidates_score_the_error_score_and_are_dropped(wine_data):
    X, y = wine_data
    estimator = NetClassifier(make_model, seed=0)
    grid = {"fit__initial_epoch": [0, -1], "hidden_size": [4, 8, 16]}
    options = {"max_resources": 3, "cv": StratifiedKFold(3), "refit": False}
    with pytest.warns(FitFailedWarning, match="9 fits failed out of a total of 18"):
        expected = HalvingGridSearchCV(estimator, grid, resource="epochs", **options).fit(X, y)
    with pytest.warns(FitFailedWarning, match="9 fits failed out of a total of 18"):
        got = FleetHalvingGridSearchCV(estimator, grid, **options).fit(X, y)
    assert_same_search(expected, got)
    assert not np.isnan(got.cv_results_["mean_test_score"][got.cv_results_["iter"] == 1]).any()


# -- bad input, reported before any training ------------------------------------------------
@pytest.fixture
def no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(Model, "fit", fail)


GRID = {"hidden_size": [4, 8, 16]}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_resources": 5, "max_resources": 3}, "min_resources=5 but may use at most"),
        ({"factor": 1}, r"'factor' parameter .* range \(1.0, inf\)"),
        ({"factor": 0.5}, r"'factor' parameter .* range \(1.0, inf\)"),
        ({"resource": "batch_size"}, r"'resource' parameter .* among"),
        ({"max_resources": 0}, "'max_resources' parameter"),
        ({"min_resources": "most"}, "'min_resources' parameter"),
        ({"aggressive_elimination": "yes"}, "'aggressive_elimination' parameter"),
        ({"scoring": ["accuracy", "f1"]}, "'scoring' parameter"),
    ],
)
def test_resource_settings_that_cannot_work_fail_before_training(
    wine_data, no_training, options, message
):
    search = FleetHalvingGridSearchCV(NetClassifier(make_model, epochs=3), GRID, cv=3, **options)
    with pytest.raises(ValueError, match=message):
        search.fit(*wine_data)


@pytest.mark.parametrize(
    ("search", "message"),
    [
        (
            FleetHalvingGridSearchCV(NetClassifier(make_model), {"epochs": [1, 2]}),
            r"cannot search over \['epochs'\]: epochs are its resource",
        ),
        (
            FleetHalvingGridSearchCV(NetClassifier(make_model), {"fit__epochs": [1, 2]}),
            "cannot search over",
        ),
        (
            FleetHalvingGridSearchCV(NetClassifier(make_model, epochs=0), GRID),
            "max_resources='auto' as the estimator's epochs, which are 0",
        ),
        (
            FleetHalvingRandomSearchCV(
                NetClassifier(make_model), GRID, max_resources=9, min_resources="exhaust"
            ),
            "n_candidates='exhaust' with min_resources='exhaust'",
        ),
        (
            FleetHalvingGridSearchCV(NetClassifier(make_model), {}, max_resources=3),
            "no parameter values to search",
        ),
    ],
)
def test_searches_that_cannot_run_fail_before_training(wine_data, no_training, search, message):
    with pytest.raises(ValueError, match=message):
        search.fit(*wine_data)


def test_only_netfleet_estimators_can_be_searched(wine_data, no_training):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="NetClassifier and NetRegressor"):
        FleetHalvingGridSearchCV(LogisticRegression(), {"C": [1.0]}).fit(*wine_data)
