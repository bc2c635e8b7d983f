"""`FleetHalvingGridSearchCV` and `FleetHalvingRandomSearchCV`: scikit-learn's
`HalvingGridSearchCV` and `HalvingRandomSearchCV` with epochs as the resource, in one fleet.

Every (candidate, fold) is a member, built as its separate fit would be; all start together
(one fleet per group of compatible architectures), each rung scores the members at its
epoch, the candidates with the worst mean test score are dropped (their members frozen),
and the survivors keep training where they are (`netfleet.fleet.halving`). A survivor's
scores at `r_{i+1}` are those of a fit from scratch to `r_{i+1}` epochs, so with a `seed`
the results equal scikit-learn's halving search over the same estimator: the same rungs
(`n_resources_`, `n_candidates_`, ...), the same survivors and the same `cv_results_`.

With `resource="n_samples"` (scikit-learn's default) each iteration trains its candidates
from scratch on subsamples, as scikit-learn does, each iteration as batched fleets.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import is_classifier
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv
from sklearn.model_selection._search_successive_halving import BaseSuccessiveHalving
from sklearn.utils import resample
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _num_samples, indexable

from netfleet.errors import InvalidArgumentError
from netfleet.fleet import halving
from netfleet.sklearn import fleet_cv
from netfleet.sklearn.search import _FleetSearch

RESOURCES = ("epochs", "n_samples")


class _FleetHalving(_FleetSearch):
    """What both halving searches share: the rungs, and the search run rung by rung."""

    _parameter_constraints = {
        **BaseSuccessiveHalving._parameter_constraints,
        "resource": [StrOptions(set(RESOURCES))],
        "factor": [Interval(Real, 1, None, closed="neither")],
        "max_resources": [Interval(Integral, 0, None, closed="neither"), StrOptions({"auto"})],
    }
    # the best candidate of the last iteration, as scikit-learn's halving searches pick it
    _select_best_index = staticmethod(BaseSuccessiveHalving._select_best_index)

    def __init__(
        self,
        estimator,
        *,
        scoring,
        cv,
        refit,
        return_train_score,
        verbose,
        error_score,
        random_state,
        max_resources,
        min_resources,
        resource,
        factor,
        aggressive_elimination,
        executor,
        ray_address,
        device,
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
            device=device,
        )
        self.random_state = random_state
        self.max_resources = max_resources
        self.min_resources = min_resources
        self.resource = resource
        self.factor = factor
        self.aggressive_elimination = aggressive_elimination

    def fit(self, X, y=None, **params):
        """Run the search: the candidates on every fold, rung by rung, as batched fleets.

        Args:
            X: Features, shape `(n, n_features)`.
            y: Targets.
            **params: `groups` for the splitter; the rest go to the estimator's `fit`.

        Returns:
            self.
        """
        self._validate_params()
        self._check_estimator()
        self._first_resources(*indexable(X, y), params.get("groups"))
        super().fit(X, y, **params)
        self.best_score_ = self.cv_results_["mean_test_score"][self.best_index_]
        return self

    def _first_resources(self, X, y, groups):
        """Set `min_resources_` (before `"exhaust"` raises it) and `max_resources_`, as
        scikit-learn's halving searches do, and refuse settings that cannot work."""
        owner = type(self).__name__
        if self.resource == "epochs":
            smallest = 1
            epochs = self.estimator.get_params().get("epochs")
            self.max_resources_ = epochs if self.max_resources == "auto" else self.max_resources
            if self.max_resources == "auto" and not (isinstance(epochs, int) and epochs > 0):
                raise InvalidArgumentError(
                    f"{owner} takes max_resources='auto' as the estimator's epochs, which are "
                    f"{epochs!r}: give max_resources, the most epochs a candidate trains."
                )
        else:
            cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
            smallest = 2 * cv.get_n_splits(X, y, groups)
            if is_classifier(self.estimator):
                smallest *= len(np.unique(np.asarray(y)))
            auto = self.max_resources == "auto"
            self.max_resources_ = _num_samples(X) if auto else self.max_resources
        if getattr(self, "n_candidates", None) == "exhaust" == self.min_resources:
            raise InvalidArgumentError(
                f"{owner} cannot take n_candidates='exhaust' with min_resources='exhaust': each "
                "is computed from the other. Give one of them."
            )
        self._smallest = smallest
        self.min_resources_ = halving.first_resources(
            self.min_resources, self.max_resources_, smallest, owner
        )

    def _evaluate(self, candidates, X, y, cv, scorers, options):
        """Run the iterations; `cv_results_` and the results of every fit."""
        owner = type(self).__name__
        searched = [name for name in ("epochs", "fit__epochs") if self.resource == "epochs"]
        clashes = sorted({name for c in candidates for name in c if name in searched})
        if clashes:
            raise InvalidArgumentError(
                f"{owner} cannot search over {clashes}: epochs are its resource, which it sets "
                "at each iteration. Remove them from the candidates, or use resource='n_samples'."
            )
        schedule = halving.plan(
            len(candidates),
            factor=self.factor,
            min_resources=self.min_resources,
            max_resources=self.max_resources_,
            aggressive_elimination=self.aggressive_elimination,
            smallest=self._smallest,
            owner=owner,
        )
        self._set_schedule(schedule)
        iterations = _Iterations(self, options)
        if self.resource == "epochs":
            self._run_epochs(candidates, X, y, cv, scorers, options, schedule, iterations)
        else:
            self._run_samples(candidates, X, y, cv, scorers, options, schedule, iterations)
        self.n_remaining_candidates_ = schedule.remaining
        return iterations.results, iterations.out

    def _set_schedule(self, schedule):
        self.min_resources_ = schedule.min_resources
        self.n_resources_ = list(schedule.resources)
        self.n_candidates_ = list(schedule.candidates)
        self.n_required_iterations_ = schedule.required_iterations
        self.n_possible_iterations_ = schedule.possible_iterations
        self.n_iterations_ = len(schedule.resources)
        if self.verbose:
            print(f"n_iterations: {self.n_iterations_}")
            print(f"n_required_iterations: {self.n_required_iterations_}")
            print(f"n_possible_iterations: {self.n_possible_iterations_}")
            print(f"min_resources_: {self.min_resources_}")
            print(f"max_resources_: {self.max_resources_}")
            print(f"aggressive_elimination: {self.aggressive_elimination}")
            print(f"factor: {self.factor}")

    def _run_epochs(self, candidates, X, y, cv, scorers, options, schedule, iterations):
        """All candidates in one fleet per group; survivors train on from rung to rung."""
        plan = fleet_cv.CrossValidation(
            self.estimator, candidates, X, y, cv, scorers, options, epochs=schedule.resources
        )
        if self.verbose:
            plan.announce(len(candidates))

        def evaluate(rung):
            out = plan.outcomes(rung.results, rung.candidates)
            params = [{**candidates[c], "epochs": rung.epoch} for c in rung.candidates]
            return iterations.add(rung.iteration, rung.epoch, params, out)

        halving.run_rungs(
            plan.groups,
            schedule,
            list(range(len(candidates))),
            plan.candidates_of,
            evaluate,
            hook=plan.score,
            executor=options["executor"],
            record_errors=self.error_score != "raise",
        )

    def _run_samples(self, candidates, X, y, cv, scorers, options, schedule, iterations):
        """Each iteration trains its candidates from scratch on subsamples of the folds."""
        splits = list(cv.split(X, y, options["groups"]))
        current = list(candidates)
        for iteration, n_resources in enumerate(schedule.resources):
            subsample = _Subsample(splits, n_resources / _num_samples(X), self.random_state)
            out = fleet_cv.evaluate(self.estimator, current, X, y, subsample, scorers, options)
            scores = iterations.add(iteration, n_resources, current, out)
            current = [current[i] for i in halving.best_of(scores, schedule.kept(iteration))]


class _Iterations:
    """The results of the iterations so far, formatted as scikit-learn's searches do."""

    def __init__(self, search, options):
        self.search, self.verbose = search, options["verbose"]
        self.params, self.out, self.more = [], [], {"iter": [], "n_resources": []}
        self.results = None

    def add(self, iteration, n_resources, params, out):
        """Add an iteration's candidates and fits; their mean test scores."""
        if self.verbose:
            print("-" * 10)
            print(f"iter: {iteration}")
            print(f"n_candidates: {len(params)}")
            print(f"n_resources: {n_resources}")
        self.params += params
        self.out += out
        self.more["iter"] += [iteration] * len(params)
        self.more["n_resources"] += [n_resources] * len(params)
        self.results = self.search._format_results(
            self.params, self.search.n_splits_, self.out, self.more
        )
        return self.results["mean_test_score"][-len(params) :]


class _Subsample:
    """The splits with `fraction` of each training and test fold drawn without replacement,
    as scikit-learn's halving searches subsample with `resource="n_samples"`."""

    def __init__(self, splits, fraction, random_state):
        self.splits, self.fraction, self.random_state = splits, fraction, random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        return len(self.splits)

    def split(self, X=None, y=None, groups=None):
        for train, test in self.splits:
            yield self._draw(train), self._draw(test)

    def _draw(self, rows):
        count = int(self.fraction * len(rows))
        return resample(rows, replace=False, random_state=self.random_state, n_samples=count)


class FleetHalvingGridSearchCV(_FleetHalving):
    """Successive halving over `param_grid`, as `HalvingGridSearchCV`, with epochs as the
    resource by default: all candidates start in one fleet, the worst are dropped at each
    rung, and the survivors keep training where they are.

    Args:
        estimator: A `NetClassifier` or `NetRegressor`.
        param_grid: A dict of parameter names to lists of values, or a list of such dicts
            (not `epochs`: it is the resource).
        factor: Each iteration keeps `1 / factor` of its candidates and trains `factor`
            times as many epochs. Defaults to `3`.
        resource: `"epochs"`, or `"n_samples"` (each iteration trains afresh on
            subsamples, as scikit-learn's default does). Defaults to `"epochs"`.
        max_resources: The most epochs (or samples) a candidate trains; `"auto"`: the
            estimator's `epochs` (all the samples for `"n_samples"`). Defaults to `"auto"`.
        min_resources: The first iteration's epochs: an int, `"smallest"` (1 epoch) or
            `"exhaust"` (the largest start whose last iteration fits `max_resources`).
            Defaults to `"exhaust"`.
        aggressive_elimination: Repeat the first iteration until few enough candidates are
            left, when the resources would run out first. Defaults to `False`.
        cv: As scikit-learn's. Defaults to 5 folds, stratified for classifiers.
        scoring: One metric, as scikit-learn's. Defaults to the estimator's `score`.
        refit: Refit the best candidate of the last iteration on the whole data, with that
            iteration's epochs. Defaults to `True`.
        error_score: The score of a failed fit, or `"raise"`. Defaults to `np.nan`.
        return_train_score: Also score the training rows. Defaults to `True`.
        random_state: Seeds the subsampling of `resource="n_samples"`. Defaults to `None`.
        verbose: Print the rungs when > 0. Defaults to `0`.
        executor, ray_address, device: Where the fleets train, as `FleetSearchCV`'s.

    Attributes:
        n_resources_, n_candidates_, n_remaining_candidates_, min_resources_,
        max_resources_, n_iterations_, n_possible_iterations_, n_required_iterations_,
        cv_results_, best_params_, best_score_, best_index_, best_estimator_, n_splits_:
            As `HalvingGridSearchCV`'s.

    Example:
        >>> from netfleet.datasets import banknotes
        >>> from netfleet.sklearn import NetClassifier
        >>> X, y = banknotes.load_data()
        >>> grid = {"optimizer__learning_rate": [0.001, 0.003, 0.01, 0.03]}
        >>> search = FleetHalvingGridSearchCV(
        ...     NetClassifier(hidden_layer_sizes=(8,), seed=0), grid, max_resources=6, cv=3
        ... ).fit(X, y)
        >>> search.n_resources_, search.n_candidates_
        ([2, 6], [4, 2])
    """

    _parameter_constraints = {**_FleetHalving._parameter_constraints, "param_grid": [dict, list]}

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        factor=3,
        resource="epochs",
        max_resources="auto",
        min_resources="exhaust",
        aggressive_elimination=False,
        cv=5,
        scoring=None,
        refit=True,
        error_score=np.nan,
        return_train_score=True,
        random_state=None,
        verbose=0,
        executor="local",
        ray_address=None,
        device=None,
    ):
        _FleetHalving.__init__(
            self,
            estimator,
            scoring=scoring,
            cv=cv,
            refit=refit,
            return_train_score=return_train_score,
            verbose=verbose,
            error_score=error_score,
            random_state=random_state,
            max_resources=max_resources,
            min_resources=min_resources,
            resource=resource,
            factor=factor,
            aggressive_elimination=aggressive_elimination,
            executor=executor,
            ray_address=ray_address,
            device=device,
        )
        self.param_grid = param_grid

    def _candidates(self):
        return list(ParameterGrid(self.param_grid))


class FleetHalvingRandomSearchCV(_FleetHalving):
    """Successive halving over candidates sampled from `param_distributions`, as
    `HalvingRandomSearchCV`, with epochs as the resource by default.

    Args:
        estimator: A `NetClassifier` or `NetRegressor`.
        param_distributions: A dict of names to lists or scipy distributions, or a list of
            such dicts (not `epochs`).
        n_candidates: How many candidates the first iteration trains, or `"exhaust"`:
            `max_resources_ // min_resources_`. Defaults to `"exhaust"`.
        min_resources: As `FleetHalvingGridSearchCV`'s. Defaults to `"smallest"`.
        random_state: Seeds the sampling (and the subsampling of `"n_samples"`). Defaults
            to `None`.
        factor, resource, max_resources, aggressive_elimination, cv, scoring, refit,
            error_score, return_train_score, verbose, executor, ray_address, device: As
            `FleetHalvingGridSearchCV`'s.
    """

    _parameter_constraints = {
        **_FleetHalving._parameter_constraints,
        "param_distributions": [dict, list],
        "n_candidates": [Interval(Integral, 0, None, closed="neither"), StrOptions({"exhaust"})],
    }

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_candidates="exhaust",
        factor=3,
        resource="epochs",
        max_resources="auto",
        min_resources="smallest",
        aggressive_elimination=False,
        cv=5,
        scoring=None,
        refit=True,
        error_score=np.nan,
        return_train_score=True,
        random_state=None,
        verbose=0,
        executor="local",
        ray_address=None,
        device=None,
    ):
        _FleetHalving.__init__(
            self,
            estimator,
            scoring=scoring,
            cv=cv,
            refit=refit,
            return_train_score=return_train_score,
            verbose=verbose,
            error_score=error_score,
            random_state=random_state,
            max_resources=max_resources,
            min_resources=min_resources,
            resource=resource,
            factor=factor,
            aggressive_elimination=aggressive_elimination,
            executor=executor,
            ray_address=ray_address,
            device=device,
        )
        self.param_distributions = param_distributions
        self.n_candidates = n_candidates

    def _candidates(self):
        count = self.n_candidates
        if count == "exhaust":
            count = self.max_resources_ // self.min_resources_
        sampler = ParameterSampler(self.param_distributions, count, random_state=self.random_state)
        return list(sampler)
