"""Evaluating a two-class classifier: the lecture's 5-detector measures, computed and drawn
by scikit-learn (metrics and Display objects).

`BinaryEvaluation` holds the true labels and the scores; its numbers and plots are views of
them. Several evaluations (classifiers, or the members of a fleet) share one ROC or PR plot
through `plot_roc` and `plot_precision_recall`.
"""

import numpy as np
from sklearn import metrics

from netfleet.errors import InvalidArgumentError, argument_error
from netfleet.reports.figures import set_title
from netfleet.reports.scores import classifier_scores, cross_val_scores


class BinaryEvaluation:
    """The true labels and one classifier's scores for the positive class.

    Args:
        y_true: Labels, shape `(n,)`: booleans or 0 / 1 (`True` / 1 is positive).
        scores: Positive-class scores, shape `(n,)` (decision values or probabilities).
        name: The classifier's name in legends. Defaults to `"classifier"`.
        threshold: Scores at or above it are predicted positive. Defaults to `0.5`.
    """

    def __init__(self, y_true, scores, *, name="classifier", threshold=0.5):
        self.y_true = np.asarray(y_true).astype(bool)
        self.scores = np.asarray(scores, dtype=float)
        if self.scores.shape != self.y_true.shape or self.scores.ndim != 1:
            raise InvalidArgumentError(
                f"BinaryEvaluation needs one score per label, both of shape (n,). Got labels "
                f"{self.y_true.shape} and scores {self.scores.shape}."
            )
        self.name = name
        self.threshold = float(threshold)

    @classmethod
    def from_classifier(cls, classifier, X, y, *, name="classifier"):
        """One evaluation per member of a fitted classifier (a fleet gives M of them,
        named `"name [i]"`), at the threshold of the classifier's own `predict`."""
        members = classifier_scores(classifier, X)
        names = [name] if len(members) == 1 else [f"{name} [{i}]" for i in range(len(members))]
        return [
            cls(y, _positive(scores.values), name=label, threshold=scores.default_threshold)
            for label, scores in zip(names, members)
        ]

    @classmethod
    def from_cross_val(cls, estimator, X, y, *, cv=3, name="classifier", method=None):
        """The out-of-fold evaluation of an unfitted estimator (`cross_val_predict`)."""
        scores = cross_val_scores(estimator, X, y, cv=cv, method=method)
        return cls(y, scores.values, name=name, threshold=scores.default_threshold)

    def at_threshold(self, threshold):
        """The same scores judged at another threshold."""
        return type(self)(self.y_true, self.scores, name=self.name, threshold=threshold)

    def threshold_for(self, *, precision=None, recall=None):
        """The lowest threshold reaching a target precision, or the highest one keeping a
        target recall (the lecture's threshold choice), from `precision_recall_curve`."""
        if (precision is None) == (recall is None):
            raise InvalidArgumentError(
                "threshold_for takes one target: precision=... or recall=... (a float in (0, 1])."
            )
        target = precision if precision is not None else recall
        if not 0 < target <= 1:
            raise argument_error(
                "precision" if precision is not None else "recall",
                "threshold_for",
                "a float in (0, 1]",
                target,
            )
        precisions, recalls, thresholds = metrics.precision_recall_curve(self.y_true, self.scores)
        if precision is not None:
            reached = np.flatnonzero(precisions[:-1] >= precision)
            if not len(reached):
                raise InvalidArgumentError(f"{self.name} never reaches precision {precision}.")
            return float(thresholds[reached[0]])
        kept = np.flatnonzero(recalls[:-1] >= recall)
        return float(thresholds[kept[-1]])

    @property
    def y_pred(self):
        return self.scores >= self.threshold

    def numbers(self):
        """Every number the evaluation shows, as plain Python values."""
        y_true, y_pred = self.y_true, self.y_pred
        return {
            "threshold": self.threshold,
            "confusion_matrix": metrics.confusion_matrix(y_true, y_pred).tolist(),
            "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
            "precision": float(metrics.precision_score(y_true, y_pred, zero_division=0)),
            "recall": float(metrics.recall_score(y_true, y_pred)),
            "f1": float(metrics.f1_score(y_true, y_pred)),
            "roc_auc": float(metrics.roc_auc_score(y_true, self.scores)),
            "average_precision": float(metrics.average_precision_score(y_true, self.scores)),
        }

    def plot_confusion_matrix(self, ax):
        """The confusion matrix at the threshold (`ConfusionMatrixDisplay`)."""
        display = metrics.ConfusionMatrixDisplay.from_predictions(
            self.y_true, self.y_pred, ax=ax, colorbar=False
        )
        set_title(ax, f"{self.name}, threshold {self.threshold:.3g}")
        return display

    def plot_operating_point(self, ax, *, label=None, **style):
        """The (recall, precision) point of the threshold on a precision-recall plot.

        Args:
            ax: The matplotlib Axes.
            label: The legend entry. Defaults to `"<name> at threshold <t>"`.
            **style: Marker options. Defaults to a black dot.
        """
        y_pred = self.y_pred
        label = f"{self.name} at threshold {self.threshold:.3g}" if label is None else label
        ax.plot(
            metrics.recall_score(self.y_true, y_pred),
            metrics.precision_score(self.y_true, y_pred, zero_division=0),
            **{"marker": "o", "color": "k", "linestyle": "", "label": label, **style},
        )
        return ax

    def plot_threshold_curves(self, ax, *, mark=None):
        """Precision and recall against the decision threshold, with the chosen threshold
        (or `mark`) drawn as a vertical line: the lecture's trade-off figure."""
        precisions, recalls, thresholds = metrics.precision_recall_curve(self.y_true, self.scores)
        mark = self.threshold if mark is None else mark
        ax.plot(thresholds, precisions[:-1], "b--", label="Precision")
        ax.plot(thresholds, recalls[:-1], "g-", label="Recall")
        ax.axvline(mark, color="k", linestyle=":", label=f"threshold {mark:.3g}")
        low, high = np.percentile(self.scores, [0.5, 99.5])  # not the far tails
        margin = 0.05 * (high - low)
        ax.set_xlim(min(low, mark) - margin, max(high, mark) + margin)
        ax.set_xlabel("Threshold")
        ax.set_ylim(0, 1.02)
        ax.legend(loc="center left")
        ax.grid(True)
        set_title(ax, f"{self.name}: precision and recall against the threshold")
        return ax


def plot_precision_recall(evaluations, ax):
    """One precision-recall curve per evaluation (`PrecisionRecallDisplay`), each with its
    average precision, and the point of its threshold (a black dot)."""
    for evaluation in evaluations:
        metrics.PrecisionRecallDisplay.from_predictions(
            evaluation.y_true, evaluation.scores, name=evaluation.name, ax=ax
        )
    for index, evaluation in enumerate(evaluations):
        shared = "each at its threshold" if index == 0 else "_"  # one legend entry for all
        evaluation.plot_operating_point(ax, label=None if len(evaluations) == 1 else shared)
    ax.legend(loc="lower left")
    ax.set_title("Precision against recall")
    return ax


def plot_roc(evaluations, ax):
    """One ROC curve per evaluation (`RocCurveDisplay`, AUC in the legend) and the chance
    diagonal: several classifiers, or every member of a fleet, on one plot."""
    for index, evaluation in enumerate(evaluations):
        metrics.RocCurveDisplay.from_predictions(
            evaluation.y_true,
            evaluation.scores,
            name=evaluation.name,
            ax=ax,
            plot_chance_level=index == len(evaluations) - 1,
        )
    ax.set_title("ROC curve")
    return ax


def _positive(values):
    """The positive class's column of two-column (softmax) scores."""
    return values[:, 1] if values.ndim == 2 else values
