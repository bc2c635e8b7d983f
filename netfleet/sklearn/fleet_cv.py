"""Cross-validated scores of many candidates, trained as batched fleets.

Each (candidate, fold) becomes one member, built as the separate `fit` of the candidate on
the fold's training rows would build it (same seed, so same initial weights and batch
order). Candidates that differ only in `epochs` share one member: it trains to their
largest `epochs` and is scored at each of theirs. Members that can train together
(`netfleet.fleet.grouping.group_indices`) form one group of the fleet runner
(`netfleet.fleet.runner`), which fits the group once on the whole data, each member on its
own fold's rows; the runner's hook scores members at the end of the epochs their candidates
ask for, and the runner freezes a member after its last one.

`CrossValidation` is the plan (members, groups, the scoring hook, the results gathered from
the runs): `evaluate` runs it once; the successive halving searches run it rung by rung
(`netfleet.fleet.halving`), each member scored at every rung's epoch.

One difference remains with separate runs: with `EarlyStopping(restore_best_weights=True)`,
a candidate read off a longer trajectory is scored with the weights of its epoch, not with
the best weights its own shorter run would restore.
"""

import collections
import time
import traceback
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning

from netfleet.errors import InvalidArgumentError
from netfleet.fleet.grouping import group_indices
from netfleet.fleet.runner import Group, Member, run_groups


class Trajectory:
    """One member of the plan: the candidates that share all but `epochs` (their indices
    by epoch in `schedule`), trained on the rows `train` of fold `fold`."""

    def __init__(self, estimator, fold, train, schedule):
        self.estimator, self.fold, self.train, self.schedule = estimator, fold, train, schedule
        self.model = estimator._build_model()


def evaluate(estimator, candidates, X, y, cv, scorer, options):
    """`_fit_and_score`-like results for every (candidate, split), candidate-major.

    Args:
        estimator: A `NetClassifier` or `NetRegressor` (not modified).
        candidates: Parameter dicts.
        X, y: The whole data (indexable).
        cv: A checked splitter.
        scorer: Called as `scorer(estimator, X, y)`.
        options: `groups` (for `cv`), `return_train_score`, `error_score`, `verbose`,
            `fit_params`, and optionally `executor` and `store` (see `run_groups`).
    """
    plan = CrossValidation(estimator, candidates, X, y, cv, scorer, options)
    if options["verbose"]:
        plan.announce(len(candidates))
    runs = run_groups(
        plan.groups,
        plan.score,
        record_errors=options["error_score"] != "raise",
        executor=options.get("executor"),
        store=options.get("store"),
        progress=True,
    )
    return plan.outcomes(runs, range(len(candidates)))


class CrossValidation:
    """The members of a cross-validated search, their groups, and the hook that scores them.

    Args:
        estimator, candidates, X, y, cv, scorer, options: As `evaluate`'s.
        epochs: The epochs at which every candidate is scored (successive halving's
            rungs). Defaults to `None`: each candidate at its own `epochs`, candidates that
            differ only in `epochs` sharing one member per fold.
    """

    def __init__(self, estimator, candidates, X, y, cv, scorer, options, epochs=None):
        self.estimator, self.candidates, self.scorer = estimator, candidates, scorer
        self.error_score = options["error_score"]
        self.return_train_score = options["return_train_score"]
        self.base = clone(estimator)
        data, targets = self.base._prepare(X, y)
        _check_class_sizes(self.base, targets, cv.get_n_splits(X, y, options["groups"]))
        splits = list(cv.split(X, y, options["groups"]))
        _check_folds(self.base, targets, splits)
        self.n_splits = len(splits)
        self.trajectories = _plan(estimator, self.base, candidates, splits, epochs)
        arguments = [t.estimator._fit_arguments({}) for t in self.trajectories]
        settings = [
            {k: v for k, v in a.items() if k not in ("callbacks", "verbose")} for a in arguments
        ]
        models = [t.model for t in self.trajectories]
        self.groups = [
            _group(indices, self.trajectories, arguments, data, targets, options["fit_params"])
            for indices in group_indices(models, settings)
        ]
        self.folds = [(_rows(X, test), _rows(y, test)) for _, test in splits]
        if self.return_train_score:
            self.train_folds = [(_rows(X, train), _rows(y, train)) for train, _ in splits]

    @property
    def candidates_of(self):
        """Member key -> the candidates it trains for."""
        return {
            key: {c for cs in trajectory.schedule.values() for c in cs}
            for key, trajectory in enumerate(self.trajectories)
        }

    def announce(self, count):
        """Print the plan, as scikit-learn's searches do with `verbose`."""
        print(
            f"Fitting {self.n_splits} folds for each of {count} candidates, totalling "
            f"{self.n_splits * count} fits as {len(self.groups)} batched runs"
        )

    def score(self, checkpoint):
        """The runner's hook: the results of the checkpoint's candidates due at its epoch,
        keyed (candidate, fold)."""
        trajectory = self.trajectories[checkpoint.key]
        scores = []
        for c in trajectory.schedule[checkpoint.epoch]:
            view = clone(self.estimator).set_params(**self.candidates[c])
            view._copy_encoding(self.base)
            view.model_ = checkpoint.model
            began = time.perf_counter()
            result = {"fit_error": None, "fit_time": checkpoint.seconds}
            test = self.folds[trajectory.fold]
            result["test_scores"] = _score(self.scorer, view, *test, self.error_score)
            if self.return_train_score:
                train = self.train_folds[trajectory.fold]
                result["train_scores"] = _score(self.scorer, view, *train, self.error_score)
            result["score_time"] = time.perf_counter() - began
            scores.append(((c, trajectory.fold), result))
        return scores

    def outcomes(self, runs, candidates):
        """The results in `runs` (`GroupResult`s) of `candidates` (ids) on every fold,
        candidate-major; scikit-learn's warning about failed fits (its error when all
        failed)."""
        results = self._gather(runs)
        out = [results[c, k] for c in candidates for k in range(self.n_splits)]
        _warn_or_raise_about_failures(out, self.error_score)
        _insert_error_scores(out, self.error_score)
        return out

    def _gather(self, runs):
        """The results of `runs`, keyed (candidate, fold); a failed run's members get the
        failure for each of their candidates."""
        results = {}
        for run in runs:
            for record in run.records:
                results.update(record.value)
            if run.error is not None:
                failure = _failure(self.error_score, self.return_train_score, run.error)
                for trajectory in (self.trajectories[key] for key in run.keys):
                    for c in {c for cs in trajectory.schedule.values() for c in cs}:
                        results.setdefault((c, trajectory.fold), dict(failure))
        return results


def _plan(estimator, base, candidates, splits, epochs=None):
    """One `Trajectory` per (candidates sharing all but `epochs`, fold), models built; each
    candidate scored at `epochs` when given, else at its own."""
    trajectories = {}
    for c, params in enumerate(candidates):
        if "callbacks" in params:
            raise InvalidArgumentError(
                "FleetSearchCV cannot search over 'callbacks' (a fleet trains with one set). "
                "Use GridSearchCV for that."
            )
        key = repr(sorted((k, v) for k, v in params.items() if k != "epochs"))
        trajectories.setdefault(key, []).append(c)
    plan = []
    for indices in trajectories.values():
        schedule = {}
        try:
            for c in indices:
                candidate = clone(estimator).set_params(**candidates[c])
                candidate._check_params()
                for epoch in [candidate.epochs] if epochs is None else epochs:
                    schedule.setdefault(epoch, []).append(c)
            candidate._copy_encoding(base)
            plan += [
                Trajectory(candidate, k, train, schedule) for k, (train, _) in enumerate(splits)
            ]
        except (ValueError, TypeError) as err:
            raise type(err)(f"Candidate {candidates[c]} cannot be used: {err}") from err
    return plan


def _group(indices, trajectories, arguments, data, targets, fit_params):
    """The runner's `Group` of the trajectories `indices`: each scored at its candidates'
    epochs, on its fold's training rows, with the targets its model's loss takes."""
    first = trajectories[indices[0]]
    shared = {**arguments[indices[0]], **fit_params}
    members = [
        Member(
            key=i,
            epochs=max(trajectories[i].schedule),
            batch_size=fit_params.get("batch_size", arguments[i]["batch_size"]),
            rows=trajectories[i].train,
            checkpoints=tuple(trajectories[i].schedule),
        )
        for i in indices
    ]
    return Group(
        models=[trajectories[i].model for i in indices],
        members=members,
        x=data,
        y=first.estimator._model_targets(first.model, targets),
        fit={k: v for k, v in shared.items() if k not in ("epochs", "batch_size")},
    )


def _rows(data, indices):
    """The rows `indices` of `data`: a DataFrame or Series, an array or a list."""
    if hasattr(data, "iloc"):
        return data.iloc[indices]
    if hasattr(data, "shape"):
        return data[indices]
    return [data[i] for i in indices]


def _score(scorer, estimator, X, y, error_score):
    try:
        scores = scorer(estimator, X, y)
    except Exception:
        if error_score == "raise":
            raise
        warnings.warn(
            f"Scoring failed; the score is set to {error_score}:\n{traceback.format_exc()}"
        )
        return error_score
    if isinstance(scores, dict):
        return {k: error_score if isinstance(v, str) else v for k, v in scores.items()}
    return scores


def _warn_or_raise_about_failures(results, error_score):
    """Raise when every fit failed, else warn about the failed ones (scikit-learn's
    `FitFailedWarning`), each distinct error once with its count."""
    errors = collections.Counter(r["fit_error"] for r in results if r["fit_error"] is not None)
    if not errors:
        return
    failed = sum(errors.values())
    details = "\n".join(
        f"{'-' * 80}\n{count} fits failed with the following error:\n{error}"
        for error, count in errors.items()
    )
    if failed == len(results):
        raise ValueError(
            f"\nAll the {failed} fits failed.\nIt is very likely that your model is "
            "misconfigured.\nYou can try to debug the error by setting error_score='raise'.\n\n"
            f"Below are more details about the failures:\n{details}"
        )
    warnings.warn(
        f"\n{failed} fits failed out of a total of {len(results)}.\nThe score on these "
        f"train-test partitions for these parameters will be set to {error_score}.\nIf these "
        "failures are not expected, you can try to debug them by setting "
        f"error_score='raise'.\n\nBelow are more details about the failures:\n{details}",
        FitFailedWarning,
    )


def _insert_error_scores(results, error_score):
    """Give failed fits one `error_score` per metric when the scores are dicts (several
    metrics), as scikit-learn's searches do."""
    scored = next((r["test_scores"] for r in results if r["fit_error"] is None), None)
    if not isinstance(scored, dict):
        return
    for result in results:
        if result["fit_error"] is not None:
            result["test_scores"] = dict.fromkeys(scored, error_score)
            if "train_scores" in result:
                result["train_scores"] = dict.fromkeys(scored, error_score)


def _failure(error_score, return_train_score, error):
    failure = {"fit_error": error, "fit_time": 0.0, "score_time": 0.0}
    failure["test_scores"] = error_score
    if return_train_score:
        failure["train_scores"] = error_score
    return failure


def _check_class_sizes(base, targets, n_splits):
    """Every class needs an example in each fold (classifiers only)."""
    if hasattr(base, "classes_"):
        smallest = np.bincount(targets, minlength=len(base.classes_)).min()
        if smallest < n_splits:
            raise InvalidArgumentError(
                f"The least populated class in y has {smallest} examples, fewer than the "
                f"{n_splits} folds of cv: use fewer folds."
            )


def _check_folds(base, targets, splits):
    """Every fold's training rows must hold every class, as the fleet encodes y once."""
    if not hasattr(base, "classes_") or base._one_hot is not None:
        return  # regression, or one-hot y: the classes are its columns, whatever the fold
    for k, (train, _) in enumerate(splits):
        missing = np.setdiff1d(np.arange(len(base.classes_)), targets[train])
        if len(missing):
            raise InvalidArgumentError(
                f"The training rows of fold {k} lack the classes {base.classes_[missing]}: "
                "every fold must see every class (use StratifiedKFold)."
            )
