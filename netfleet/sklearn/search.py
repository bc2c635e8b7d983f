"""`FleetSearchCV` and `FleetRandomizedSearchCV`: `GridSearchCV` and `RandomizedSearchCV`
whose candidates and folds train as batched fleets (see `netfleet.sklearn.fleet_cv`).

They take the same arguments (less `n_jobs` and `pre_dispatch`: the fleets train in this
process, or as Ray tasks with `executor="ray"`), plus `results_dir` (a folder that keeps
each finished group, so that the same search fitted again resumes), and give the same
attributes: `cv_results_` with GridSearchCV's keys and dtypes,
`best_params_`, `best_score_`, `best_index_`, `best_estimator_` (refitted on the whole data
as GridSearchCV does), `n_splits_`, `scorer_`, `refit_time_`, `classes_`, and `predict`,
`predict_proba`, `score` delegated to the best estimator. Each (candidate, fold) is trained
as the candidate's separate fit on that fold would be, so with a `seed` the scores equal
GridSearchCV's. Timings: a fleet's training time is shared equally among its members.

Unlike GridSearchCV, a candidate whose parameters cannot be applied or built raises at
once, before any training.
"""

import time

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils.validation import indexable

from netfleet import config
from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.fleet import executors
from netfleet.fleet.durable import ResultStore
from netfleet.sklearn import fleet_cv
from netfleet.sklearn.base import BaseNetEstimator


class _FleetSearch(BaseSearchCV):
    """What both searches share: `fit`, from candidates that a subclass lists."""

    def __init__(
        self,
        estimator,
        scoring,
        cv,
        refit,
        return_train_score,
        verbose,
        error_score,
        executor="local",
        ray_address=None,
        results_dir=None,
        device=None,
    ):
        """Store the settings every fleet search shares (scikit-learn's rule: only store)."""
        self.estimator = estimator
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.return_train_score = return_train_score
        self.verbose = verbose
        self.error_score = error_score
        self.executor = executor
        self.ray_address = ray_address
        self.results_dir = results_dir
        self.device = device

    def _candidates(self):
        raise NotImplementedError

    def fit(self, X, y=None, **params):
        """Run the search: every candidate on every fold, as batched fleets.

        Args:
            X: Features, shape `(n, n_features)`.
            y: Targets.
            **params: `groups` for the splitter; the rest go to the estimator's `fit`
                (e.g. `sample_weight`, used for training, not for scoring).

        Returns:
            self.
        """
        with config.device_scope(self.device, type(self).__name__):
            return self._search(X, y, **params)

    def _search(self, X, y, **params):
        """`fit`, on the device the search chose."""
        self._validate_params()
        self._check_estimator()
        runner = executors.resolve(self.executor, self.ray_address, type(self).__name__)
        candidates = self._candidates()
        if not candidates or candidates == [{}]:
            raise InvalidArgumentError(
                f"{type(self).__name__} has no parameter values to search: give at least one "
                "parameter and its values, e.g. {'epochs': [1, 5, 10]}."
            )
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        groups = params.pop("groups", None)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self.n_splits_ = cv.get_n_splits(X, y, groups)
        options = {
            "groups": groups,
            "return_train_score": self.return_train_score,
            "error_score": self.error_score,
            "verbose": self.verbose,
            "fit_params": params,
            "executor": runner,
            "store": self._store(candidates, cv),
        }
        results, out = self._evaluate(candidates, X, y, cv, scorers, options)

        self.multimetric_ = isinstance(out[0]["test_scores"], dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(out[0]["test_scores"])
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self.best_estimator_ = clone(self.estimator).set_params(
                **clone(self.best_params_, safe=False)
            )
            began = time.perf_counter()
            self.best_estimator_.fit(X, y, **params)
            self.refit_time_ = time.perf_counter() - began
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        self.scorer_ = getattr(scorers, "_scorers", scorers)
        self.cv_results_ = results
        return self

    def _check_estimator(self):
        if not isinstance(self.estimator, BaseNetEstimator):
            raise InvalidTypeError(
                f"{type(self).__name__} searches over NetClassifier and NetRegressor estimators. "
                f"Got {type(self.estimator).__name__}: use GridSearchCV for it."
            )

    def _evaluate(self, candidates, X, y, cv, scorers, options):
        """`cv_results_` and the `_fit_and_score`-like results of every fit."""
        out = fleet_cv.evaluate(self.estimator, candidates, X, y, cv, scorers, options)
        return self._format_results(candidates, self.n_splits_, out), out

    def _store(self, candidates, cv):
        """The results store of `results_dir`, fingerprinting what the groups do not show."""
        if self.results_dir is None:
            return None
        settings = {
            "search": type(self).__name__,
            "candidates": candidates,
            "estimator": self.estimator.get_params(deep=False),
            "scoring": self.scoring,
            "cv": cv,
            "return_train_score": self.return_train_score,
            "error_score": self.error_score,
        }
        return ResultStore(self.results_dir, settings)


class FleetSearchCV(_FleetSearch):
    """Exhaustive search over `param_grid`, as `GridSearchCV`, trained as fleets.

    Args:
        estimator: A `NetClassifier` or `NetRegressor`.
        param_grid: A dict of parameter names to lists of values, or a list of such dicts.
            Names are the estimator's parameters, routed ones included (`hidden_size`,
            `model__hidden_size`, `optimizer__learning_rate`, ...).
        scoring: As GridSearchCV's. Defaults to the estimator's `score`.
        cv: As GridSearchCV's (an int, a splitter or an iterable of splits). Defaults to 5
            folds, stratified for classifiers.
        refit: Refit the best candidate on the whole data. Defaults to `True`.
        return_train_score: Also score each candidate on its training rows. Defaults to
            `False`.
        verbose: Print the plan when > 0. Defaults to `0`.
        error_score: The score of a failed fit, or `"raise"`. Defaults to `np.nan`.
        executor: Where the fleets train: `"local"` (this process), `"ray"` (one Ray task
            per group, see `netfleet.fleet.executors.RayExecutor`) or an executor object.
            Defaults to `"local"`.
        ray_address: The Ray cluster to use with `executor="ray"` when this process is not
            connected to one yet. Defaults to `None` (a local Ray instance).
        results_dir: A folder that keeps every finished group; fitting the same search on
            the same data again resumes from it, training only the groups it lacks (the
            refit of the best candidate runs again). Defaults to `None`.
        device: Where the fleets (and the refit) train in this process: `"cpu"`, `"cuda"`,
            `"cuda:N"` or `"auto"` (see `netfleet.config`). Defaults to `None`: the current
            choice (`netfleet.config.get_device()`).

    Example:
        >>> from netfleet.datasets import banknotes
        >>> from netfleet.sklearn import NetClassifier
        >>> X, y = banknotes.load_data()
        >>> search = FleetSearchCV(
        ...     NetClassifier(seed=0), {"epochs": [1, 3], "hidden_layer_sizes": [(8,), (16,)]}, cv=3
        ... ).fit(X, y)
        >>> sorted(search.best_params_)
        ['epochs', 'hidden_layer_sizes']
    """

    _parameter_constraints = {**BaseSearchCV._parameter_constraints, "param_grid": [dict, list]}

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        cv=None,
        refit=True,
        return_train_score=False,
        verbose=0,
        error_score=np.nan,
        executor="local",
        ray_address=None,
        results_dir=None,
        device=None,
    ):
        _FleetSearch.__init__(
            self,
            estimator,
            scoring,
            cv,
            refit,
            return_train_score,
            verbose,
            error_score,
            executor,
            ray_address,
            results_dir,
            device,
        )
        self.param_grid = param_grid

    def _candidates(self):
        return list(ParameterGrid(self.param_grid))


class FleetRandomizedSearchCV(_FleetSearch):
    """Search over `n_iter` candidates sampled from `param_distributions` (with
    scikit-learn's `ParameterSampler`), as `RandomizedSearchCV`, trained as fleets.

    Args:
        estimator: A `NetClassifier` or `NetRegressor`.
        param_distributions: A dict of names to lists or scipy distributions, or a list of
            such dicts.
        n_iter: Number of candidates. Defaults to `10`.
        random_state: Seeds the sampling. Defaults to `None`.
        scoring, cv, refit, return_train_score, verbose, error_score, executor,
            ray_address, results_dir, device: As `FleetSearchCV`.
    """

    _parameter_constraints = {
        **BaseSearchCV._parameter_constraints,
        "param_distributions": [dict, list],
    }

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_iter=10,
        random_state=None,
        scoring=None,
        cv=None,
        refit=True,
        return_train_score=False,
        verbose=0,
        error_score=np.nan,
        executor="local",
        ray_address=None,
        results_dir=None,
        device=None,
    ):
        _FleetSearch.__init__(
            self,
            estimator,
            scoring,
            cv,
            refit,
            return_train_score,
            verbose,
            error_score,
            executor,
            ray_address,
            results_dir,
            device,
        )
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.random_state = random_state

    def _candidates(self):
        sampler = ParameterSampler(
            self.param_distributions, self.n_iter, random_state=self.random_state
        )
        return list(sampler)
