"""FleetSearchCV and FleetRandomizedSearchCV, with scikit-learn's searches as the oracle:
the same seeds and folds must give the same scores, split by split."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform, randint
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold

from netfleet import callbacks
from netfleet.layers import Dense
from netfleet.models import Model, Sequential
from netfleet.sklearn import (
    FleetRandomizedSearchCV,
    FleetSearchCV,
    NetClassifier,
    NetRegressor,
)


def make_model(hidden_size=16, activation="relu"):
    """An uncompiled 13 -> hidden -> 3 softmax model (the wines' shape)."""
    return Sequential(
        [
            Dense(hidden_size, input_shape=(13,), activation=activation),
            Dense(3, activation="softmax"),
        ]
    )


def assert_same_results(expected, got):
    """`got` (a fleet search) has `expected`'s (scikit-learn's) results, to 1e-6."""
    assert got.best_params_ == expected.best_params_
    assert got.best_index_ == expected.best_index_
    assert set(got.cv_results_) == set(expected.cv_results_)
    for key, want in expected.cv_results_.items():
        have = got.cv_results_[key]
        if key == "params":
            assert have == want
            continue
        assert type(have) is type(want) and have.dtype == want.dtype, key
        if key.startswith("param_"):
            assert list(have) == list(want) and list(have.mask) == list(want.mask), key
        elif "_time" not in key:
            np.testing.assert_allclose(have, want, rtol=0, atol=1e-6, err_msg=key)


CASES = {
    "wines-string-labels-uneven-folds": (
        lambda X, y: (X, np.array(["a", "b", "c"])[y - 1]),
        NetClassifier(make_model, seed=0),
        {"epochs": [2, 5], "hidden_size": [8, 16], "activation": ["relu", "tanh"]},
        {"cv": StratifiedKFold(3, shuffle=True, random_state=0), "return_train_score": True},
    ),
    "wines-regression": (
        lambda X, y: (X[:, 1:], X[:, 0]),
        NetRegressor(model=None, seed=1, batch_size=16),
        {"epochs": [1, 3], "optimizer__learning_rate": [0.001, 0.01]},
        {"cv": KFold(3, shuffle=True, random_state=0)},
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_fleet_search_gives_grid_search_scores_split_by_split(wine_data, case):
    prepare, estimator, grid, options = CASES[case]
    X, y = prepare(*wine_data)
    expected = GridSearchCV(estimator, grid, **options).fit(X, y)
    got = FleetSearchCV(estimator, grid, **options).fit(X, y)
    assert_same_results(expected, got)


def test_binary_validation_split_batch_sizes_and_several_metrics(banknote_data):
    X, y = banknote_data
    estimator = NetClassifier(seed=2, validation_split=0.2, hidden_layer_sizes=(8,))
    grid = {"batch_size": [16, 64], "epochs": [1, 2], "optimizer__learning_rate": [0.001, 0.01]}
    options = {
        "cv": KFold(4, shuffle=True, random_state=1),
        "scoring": ["accuracy", "neg_log_loss"],
        "refit": "accuracy",
        "return_train_score": True,
    }
    expected = GridSearchCV(estimator, grid, **options).fit(X, y)
    got = FleetSearchCV(estimator, grid, **options).fit(X, y)
    assert_same_results(expected, got)


@pytest.mark.skipif(not hasattr(callbacks, "EarlyStopping"), reason="no EarlyStopping yet")
def test_members_stopped_early_score_as_their_separate_runs(wine_data):
    X, y = wine_data
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.02)
    estimator = NetClassifier(seed=0, validation_split=0.2, callbacks=[stop])
    grid = {"epochs": [3, 10, 40], "optimizer__learning_rate": [0.003, 0.03]}
    options = {"cv": StratifiedKFold(3, shuffle=True, random_state=0)}
    expected = GridSearchCV(estimator, grid, **options).fit(X, y)
    got = FleetSearchCV(estimator, grid, **options).fit(X, y)
    assert_same_results(expected, got)


def test_candidates_differing_in_epochs_share_one_member_per_fold(wine_data, capsys):
    X, y = wine_data
    grid = {"epochs": [1, 2, 4], "hidden_size": [8, 16], "optimizer__learning_rate": [0.01, 0.1]}
    search = FleetSearchCV(NetClassifier(make_model, seed=0), grid, cv=3, verbose=1).fit(X, y)
    assert "totalling 36 fits as 2 batched runs" in capsys.readouterr().out
    assert search.cv_results_["mean_fit_time"].shape == (12,)


def test_results_make_the_lecture_pivot_table(wine_data):
    X, y = wine_data
    grid = {"epochs": [1, 3], "hidden_size": [4, 8]}
    search = FleetSearchCV(NetClassifier(make_model), grid, cv=3, return_train_score=True)
    res = pd.DataFrame(search.fit(X, y).cv_results_)
    table = res.pivot_table(
        index=["param_epochs", "param_hidden_size"], values=["mean_train_score", "mean_test_score"]
    )
    assert table.shape == (4, 2)
    assert list(table.index) == [(1, 4), (1, 8), (3, 4), (3, 8)]


def test_refit_and_delegation(wine_data):
    X, y = wine_data
    search = FleetSearchCV(
        NetClassifier(make_model, seed=0, epochs=3), {"hidden_size": [4, 16]}, cv=3
    ).fit(X, y)
    best = search.best_estimator_
    assert best.hidden_size == search.best_params_["hidden_size"]
    np.testing.assert_array_equal(search.predict(X), best.predict(X))
    assert search.score(X, y) == best.score(X, y)
    assert list(search.classes_) == [1, 2, 3]
    assert search.n_splits_ == 3 and search.refit_time_ > 0
    assert search.best_score_ == search.cv_results_["mean_test_score"][search.best_index_]
    no_refit = FleetSearchCV(NetClassifier(make_model), {"hidden_size": [4]}, cv=3, refit=False)
    assert not hasattr(no_refit.fit(X, y), "best_estimator_")


def test_randomized_search_samples_the_candidates_scikit_learn_samples(wine_data):
    X, y = wine_data
    distributions = {
        "epochs": [1, 2, 3],
        "hidden_size": randint(4, 32),
        "optimizer__learning_rate": loguniform(1e-3, 1e-1),
    }
    options = {"n_iter": 5, "random_state": 0, "cv": StratifiedKFold(3)}
    estimator = NetClassifier(make_model, seed=0)
    expected = RandomizedSearchCV(estimator, distributions, **options).fit(X, y)
    got = FleetRandomizedSearchCV(estimator, distributions, **options).fit(X, y)
    assert_same_results(expected, got)


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_failed_fits_get_the_error_score_and_warning_grid_search_gives(wine_data):
    X, y = wine_data
    estimator = NetClassifier(make_model, seed=0, epochs=2)
    grid = {"fit__initial_epoch": [0, -1], "hidden_size": [4, 8]}
    options = {"cv": StratifiedKFold(3), "scoring": ["accuracy", "neg_log_loss"], "refit": False}
    with pytest.warns(FitFailedWarning, match="6 fits failed out of a total of 12"):
        expected = GridSearchCV(estimator, grid, **options).fit(X, y)
    with pytest.warns(FitFailedWarning, match="6 fits failed out of a total of 12"):
        got = FleetSearchCV(estimator, grid, **options).fit(X, y)
    assert np.isnan(got.cv_results_["mean_test_accuracy"][2:]).all()
    for key, want in expected.cv_results_.items():
        if key.startswith(("split", "mean_test", "rank")):
            np.testing.assert_allclose(got.cv_results_[key], want, atol=1e-6, err_msg=key)


def test_a_search_whose_fits_all_fail_raises_as_grid_search_does(wine_data):
    X, y = wine_data
    search = FleetSearchCV(NetClassifier(epochs=1), {"fit__initial_epoch": [-1]}, cv=3)
    with pytest.raises(ValueError, match="All the 3 fits failed"):
        search.fit(X, y)
    search.set_params(error_score="raise")
    with pytest.raises(ValueError, match="'initial_epoch' argument of fit"):
        search.fit(X, y)


# -- bad input, reported before any training ------------------------------------------------
@pytest.fixture
def no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(Model, "fit", fail)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({}, "no parameter values to search"),
        ([], "no parameter values to search"),
        ({"hiden_size": [4]}, r"Invalid parameters \['hiden_size'\].*'hidden_size'"),
        ({"epochs": [1, -1]}, r"Candidate \{'epochs': -1\}.*'epochs' argument"),
        ({"hidden_size": [4, 0]}, r"Candidate \{'hidden_size': 0\}.*'units' argument of Dense"),
        ({"optimizer": ["adam", "adamm"]}, "Did you mean 'adam'"),
        ({"callbacks": [None, []]}, "cannot search over 'callbacks'"),
    ],
)
def test_bad_grids_fail_before_training(wine_data, no_training, grid, message):
    X, y = wine_data
    with pytest.raises(ValueError, match=message):
        FleetSearchCV(NetClassifier(make_model), grid, cv=3).fit(X, y)


def test_only_netfleet_estimators_can_be_searched(wine_data, no_training):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="use GridSearchCV"):
        FleetSearchCV(LogisticRegression(), {"C": [1.0]}).fit(*wine_data)


def test_too_few_examples_for_the_folds(wine_data, no_training):
    X, y = wine_data
    few = np.concatenate([y[:-2], [4, 4]])
    with pytest.raises(ValueError, match="least populated class in y has 2 examples"):
        FleetSearchCV(NetClassifier(), {"epochs": [1]}, cv=3).fit(X, few)
    with pytest.raises(ValueError, match="Cannot have number of splits n_splits=5"):
        FleetSearchCV(NetRegressor(), {"epochs": [1]}, cv=5).fit(X[:3], X[:3, 0])


def test_folds_missing_a_class_are_reported(wine_data, no_training):
    X, y = wine_data  # sorted by class: unshuffled folds miss one
    with pytest.raises(ValueError, match="fold 0 lack the classes"):
        FleetSearchCV(NetClassifier(), {"epochs": [1]}, cv=KFold(3)).fit(X, y)


@pytest.mark.slow
def test_mnist_digits_with_the_default_model(mnist_subset):
    X, y = mnist_subset
    estimator = NetClassifier(seed=0, batch_size=128)
    grid = {"epochs": [1, 3], "hidden_layer_sizes": [(32,), (64,)]}
    options = {"cv": StratifiedKFold(3), "return_train_score": True}
    expected = GridSearchCV(estimator, grid, **options).fit(X, y)
    got = FleetSearchCV(estimator, grid, **options).fit(X, y)
    assert_same_results(expected, got)
    assert got.best_score_ > 0.8
