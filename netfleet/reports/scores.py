"""The scores a classifier gives: from a netfleet model or fleet, a scikit-learn estimator,
or cross-validation (`cross_val_predict`, as the lecture evaluates its 5-detector).

Scores are what the threshold acts on: `decision_function` values when the classifier has
them, else probabilities. A netfleet model's `predict` gives probabilities; a fleet's gives
one set per member, shape `(M, n, ...)`.
"""

from dataclasses import dataclass

import numpy as np

from netfleet.errors import InvalidTypeError
from netfleet.models import Model

DECISION = "decision"
PROBABILITY = "probability"


@dataclass(frozen=True)
class Scores:
    """One classifier's scores on some rows.

    Attributes:
        values: `(n,)` for two classes (the positive class's score), `(n, k)` for k classes.
        kind: `"decision"` (threshold 0) or `"probability"` (threshold 0.5).
        classes: The class labels the columns stand for.
    """

    values: np.ndarray
    kind: str
    classes: np.ndarray

    @property
    def default_threshold(self):
        """The threshold at which the classifier's own `predict` decides (two classes)."""
        return 0.0 if self.kind == DECISION else 0.5

    def labels(self, threshold=None):
        """Predicted labels: the class of the highest score, or the positive class where the
        score reaches `threshold` (two classes; defaults to `default_threshold`)."""
        if self.values.ndim == 2:
            return self.classes[np.argmax(self.values, axis=1)]
        threshold = self.default_threshold if threshold is None else threshold
        return self.classes[(self.values >= threshold).astype(int)]


def classifier_scores(classifier, X, classes=None):
    """The scores of a fitted classifier on `X`, one `Scores` per member.

    Args:
        classifier: A netfleet `Model` whose `predict` gives probabilities (one sigmoid unit
            or k softmax units; a fleet gives one `Scores` per member), or a scikit-learn
            classifier with `decision_function` or `predict_proba`.
        X: The rows to score.
        classes: The labels of a netfleet model's outputs. Defaults to `0, 1, ...`.

    Returns:
        A list of `Scores` (one for a plain model or an estimator).
    """
    if isinstance(classifier, Model):
        raw = np.asarray(classifier.predict(X, verbose=0), dtype=float)
        members = raw if classifier.num_members > 1 else raw[None]
        units = members.shape[-1]
        labels = np.arange(max(units, 2)) if classes is None else np.asarray(classes)
        values = members[..., 0] if units == 1 else members
        return [Scores(v, PROBABILITY, labels) for v in values]
    if hasattr(classifier, "decision_function"):
        values, kind = np.asarray(classifier.decision_function(X), dtype=float), DECISION
    elif hasattr(classifier, "predict_proba"):
        values, kind = np.asarray(classifier.predict_proba(X), dtype=float), PROBABILITY
    else:
        raise InvalidTypeError(
            "classifier_scores needs a netfleet Model or a fitted classifier with "
            f"decision_function or predict_proba. Got {type(classifier).__name__}."
        )
    return [_estimator_scores(values, kind, classifier.classes_)]


def cross_val_scores(estimator, X, y, *, cv=3, method=None):
    """Out-of-fold scores of an unfitted scikit-learn estimator (`cross_val_predict`).

    Args:
        estimator: A scikit-learn classifier (a `netfleet.sklearn.NetClassifier` too).
        X: Features.
        y: Labels.
        cv: Folds, as `cross_val_predict` takes them. Defaults to `3` (the lecture's).
        method: `"decision_function"` or `"predict_proba"`. Defaults to the first the
            estimator has.

    Returns:
        One `Scores`.
    """
    from sklearn.model_selection import cross_val_predict

    if method is None:
        method = "decision_function" if hasattr(estimator, "decision_function") else "predict_proba"
    values = cross_val_predict(estimator, X, y, cv=cv, method=method)
    kind = DECISION if method == "decision_function" else PROBABILITY
    return _estimator_scores(np.asarray(values, dtype=float), kind, np.unique(y))


def _estimator_scores(values, kind, classes):
    """Two-class probabilities become the positive column, as scikit-learn's curves take."""
    if values.ndim == 2 and values.shape[1] == 2:
        values = values[:, 1]
    return Scores(values, kind, np.asarray(classes))
