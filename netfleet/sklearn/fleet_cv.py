"""Cross-validated scores of many candidates, trained as batched fleets.

Each (candidate, fold) becomes one member, built as the separate `fit` of the candidate on
the fold's training rows would build it (same seed, so same initial weights and batch
order). Candidates that differ only in `epochs` share one member: it trains to their
largest `epochs` and is scored at each of theirs. Members that can train together
(`netfleet.fleet.group_indices`) are stacked into one fleet and fitted once on the whole
data, each on its own fold's rows (`member_rows`); a callback scores members at the end of
the epochs their candidates ask for, and freezes a member once its last one is scored.

One difference remains with separate runs: with `EarlyStopping(restore_best_weights=True)`,
a candidate read off a longer trajectory is scored with the weights of its epoch, not with
the best weights its own shorter run would restore.
"""

import time
import traceback
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.model_selection._validation import (
    _insert_error_scores,
    _warn_or_raise_about_fit_failures,
)
from sklearn.utils import _safe_indexing

from netfleet.callbacks.base import Callback
from netfleet.errors import InvalidArgumentError
from netfleet.fleet import group_indices, stack


class Member:
    """One trajectory: a model trained on fold `fold`, scored for `schedule[epoch]`."""

    def __init__(self, estimator, fold, train, schedule):
        self.estimator, self.fold, self.train, self.schedule = estimator, fold, train, schedule
        self.model = estimator._build_model()


class EpochScorer(Callback):
    """Scores the members due at the end of an epoch, then freezes the finished ones.

    Members that other callbacks stopped early (EarlyStopping) are scored at the end of
    training for the epochs they did not reach, with the weights they stopped with, as
    their separate runs would be.

    Args:
        members: The fleet's `Member`s, in member order.
        score: `score(member, epoch, seconds)` records the scores of the member's candidates
            at `epoch`; `seconds` is the fleet's training time so far, divided among members.
    """

    def __init__(self, members, score):
        super().__init__()
        self.members, self.score = members, score

    def on_train_begin(self, logs=None):
        self.start, self.scoring = time.perf_counter(), 0.0
        self.pending = [sorted(member.schedule) for member in self.members]
        self._score(lambda e: e == 0)

    def on_epoch_end(self, epoch, logs=None):
        self._score(lambda e: e == epoch + 1)

    def on_train_end(self, logs=None):
        self._score(lambda e: True)

    def _score(self, due):
        began = time.perf_counter()
        seconds = (began - self.start - self.scoring) / len(self.members)
        weights = None
        for m, member in enumerate(self.members):
            epochs = [e for e in self.pending[m] if due(e)]
            if not epochs:
                continue
            weights = self.model.get_weights() if weights is None else weights
            member.model.set_weights([w[m] for w in weights])
            for epoch in epochs:
                self.score(member, epoch, seconds)
                self.pending[m].remove(epoch)
        self.scoring += time.perf_counter() - began
        finished = [m for m in self.model.active_members if not self.pending[m]]
        if finished:
            self.model.stop_members(finished)


def evaluate(estimator, candidates, X, y, cv, scorer, options):
    """`_fit_and_score`-like results for every (candidate, split), candidate-major.

    Args:
        estimator: A `NetClassifier` or `NetRegressor` (not modified).
        candidates: Parameter dicts.
        X, y: The whole data (indexable).
        cv: A checked splitter.
        scorer: Called as `scorer(estimator, X, y)`.
        options: `groups` (for `cv`), `return_train_score`, `error_score`, `verbose` and
            `fit_params`.
    """
    base = clone(estimator)
    data, targets = base._prepare(X, y)
    _check_class_sizes(base, targets, cv.get_n_splits(X, y, options["groups"]))
    splits = list(cv.split(X, y, options["groups"]))
    _check_folds(base, targets, splits)
    members = _plan(estimator, base, candidates, splits)
    arguments = [m.estimator._fit_arguments({}) for m in members]
    settings = [
        {k: v for k, v in a.items() if k not in ("callbacks", "verbose")} for a in arguments
    ]
    groups = group_indices([m.model for m in members], settings)
    if options["verbose"]:
        print(
            f"Fitting {len(splits)} folds for each of {len(candidates)} candidates, totalling "
            f"{len(splits) * len(candidates)} fits as {len(groups)} batched runs"
        )
    folds = [(_safe_indexing(X, test), _safe_indexing(y, test)) for _, test in splits]
    if options["return_train_score"]:
        train_folds = [(_safe_indexing(X, tr), _safe_indexing(y, tr)) for tr, _ in splits]
    results = {}

    def score(member, epoch, seconds):
        for c in member.schedule[epoch]:
            view = clone(estimator).set_params(**candidates[c])
            view._copy_encoding(base)
            view.model_ = member.model
            began = time.perf_counter()
            result = {"fit_error": None, "fit_time": seconds}
            result["test_scores"] = _score(scorer, view, *folds[member.fold], options)
            if options["return_train_score"]:
                result["train_scores"] = _score(scorer, view, *train_folds[member.fold], options)
            result["score_time"] = time.perf_counter() - began
            results[c, member.fold] = result

    for indices in groups:
        group = [members[i] for i in indices]
        try:
            _train(group, data, targets, arguments[indices[0]], options["fit_params"], score)
        except Exception:
            if options["error_score"] == "raise":
                raise
            failure = _failure(options, traceback.format_exc())
            for member in group:
                for c in {c for cs in member.schedule.values() for c in cs}:
                    results.setdefault((c, member.fold), dict(failure))
    out = [results[c, k] for c in range(len(candidates)) for k in range(len(splits))]
    _warn_or_raise_about_fit_failures(out, options["error_score"])
    _insert_error_scores(out, options["error_score"])
    return out


def _plan(estimator, base, candidates, splits):
    """One `Member` per (candidates sharing all but `epochs`, fold), models built."""
    trajectories = {}
    for c, params in enumerate(candidates):
        if "callbacks" in params:
            raise InvalidArgumentError(
                "FleetSearchCV cannot search over 'callbacks' (a fleet trains with one set). "
                "Use GridSearchCV for that."
            )
        key = repr(sorted((k, v) for k, v in params.items() if k != "epochs"))
        trajectories.setdefault(key, []).append(c)
    members = []
    for indices in trajectories.values():
        schedule = {}
        try:
            for c in indices:
                candidate = clone(estimator).set_params(**candidates[c])
                candidate._check_params()
                schedule.setdefault(candidate.epochs, []).append(c)
            candidate._copy_encoding(base)
            members += [
                Member(candidate, k, train, schedule) for k, (train, _) in enumerate(splits)
            ]
        except (ValueError, TypeError) as err:
            raise type(err)(f"Candidate {candidates[c]} cannot be used: {err}") from err
    return members


def _train(group, data, targets, arguments, fit_params, score):
    """Stack `group`, fit it once on every member's rows, scoring as it goes."""
    fleet = stack([m.model for m in group])
    split = arguments["validation_split"]
    cuts = [int(len(m.train) * (1 - split)) for m in group]
    kwargs = {
        **arguments,
        **fit_params,
        "epochs": max(max(m.schedule) for m in group),
        "validation_split": 0.0,
        "callbacks": [*arguments["callbacks"], EpochScorer(group, score)],
    }
    fleet.fit(
        data,
        group[0].estimator._model_targets(group[0].model, targets),
        member_rows=[m.train[:cut] for m, cut in zip(group, cuts)],
        member_validation_rows=[m.train[cut:] for m, cut in zip(group, cuts)] if split else None,
        **kwargs,
    )


def _score(scorer, estimator, X, y, options):
    error_score = options["error_score"]
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


def _failure(options, error):
    failure = {"fit_error": error, "fit_time": 0.0, "score_time": 0.0}
    failure["test_scores"] = options["error_score"]
    if options["return_train_score"]:
        failure["train_scores"] = options["error_score"]
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
