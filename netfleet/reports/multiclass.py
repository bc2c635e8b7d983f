"""Evaluating a multi-class classifier: confusion matrices for error analysis, per-class and
averaged precision / recall / F1, one-vs-rest and one-vs-one ROC AUC, and the most-confused
pairs with example images, all from scikit-learn's metrics and Display objects.
"""

import numpy as np
from sklearn import metrics
from sklearn.preprocessing import label_binarize

from netfleet.errors import InvalidArgumentError
from netfleet.reports.figures import set_title
from netfleet.reports.scores import PROBABILITY, classifier_scores, cross_val_scores


class MulticlassEvaluation:
    """The true labels, the predictions and (optionally) the per-class scores.

    Args:
        y_true: Labels, shape `(n,)`.
        y_pred: Predicted labels, shape `(n,)`.
        scores: Per-class scores `(n, k)` in the order of `classes`, for the ROC AUC.
            Defaults to `None` (no AUC).
        classes: The class labels. Defaults to the sorted labels of `y_true` and `y_pred`.
        probabilities: Whether `scores` are probabilities (needed for one-vs-one AUC).
            Defaults to `False`.
        name: The classifier's name in titles. Defaults to `"classifier"`.
    """

    def __init__(
        self, y_true, y_pred, *, scores=None, classes=None, probabilities=False, name="classifier"
    ):
        self.y_true = np.asarray(y_true)
        self.y_pred = np.asarray(y_pred)
        if self.y_true.shape != self.y_pred.shape or self.y_true.ndim != 1:
            raise InvalidArgumentError(
                "MulticlassEvaluation needs labels and predictions of the same shape (n,). "
                f"Got {self.y_true.shape} and {self.y_pred.shape}."
            )
        self.classes = (
            np.unique(np.concatenate([self.y_true, self.y_pred]))
            if classes is None
            else np.asarray(classes)
        )
        self.scores = None if scores is None else np.asarray(scores, dtype=float)
        self.probabilities = probabilities
        self.name = name

    @classmethod
    def from_classifier(cls, classifier, X, y, *, classes=None, name="classifier"):
        """One evaluation per member of a fitted classifier (a fleet gives M of them)."""
        members = classifier_scores(classifier, X, classes=classes)
        names = [name] if len(members) == 1 else [f"{name} [{i}]" for i in range(len(members))]
        return [
            cls(
                y,
                s.labels(),
                scores=s.values,
                classes=s.classes,
                probabilities=s.kind == PROBABILITY,
                name=label,
            )
            for label, s in zip(names, members)
        ]

    @classmethod
    def from_cross_val(cls, estimator, X, y, *, cv=3, name="classifier", method=None):
        """The out-of-fold evaluation of an unfitted estimator (`cross_val_predict`)."""
        s = cross_val_scores(estimator, X, y, cv=cv, method=method)
        return cls(
            y,
            s.labels(),
            scores=s.values,
            classes=s.classes,
            probabilities=s.kind == PROBABILITY,
            name=name,
        )

    def confusion_matrix(self, normalize=None):
        """`sklearn.metrics.confusion_matrix` over `classes`."""
        return metrics.confusion_matrix(
            self.y_true, self.y_pred, labels=self.classes, normalize=normalize
        )

    def error_matrix(self):
        """The confusion matrix divided by each class's count, diagonal zeroed: the share of
        each true class (rows) taken for each other class (columns)."""
        errors = self.confusion_matrix(normalize="true")
        np.fill_diagonal(errors, 0)
        return errors

    def most_confused(self, count=5):
        """The `count` (true, predicted) pairs with the largest error rates, as dicts."""
        errors, counts = self.error_matrix(), self.confusion_matrix()
        order = np.argsort(errors, axis=None, kind="stable")[::-1][:count]
        pairs = []
        for flat in order:
            i, j = np.unravel_index(flat, errors.shape)
            if errors[i, j] > 0:
                pairs.append(
                    {
                        "true": _plain(self.classes[i]),
                        "predicted": _plain(self.classes[j]),
                        "count": int(counts[i, j]),
                        "rate": float(errors[i, j]),
                    }
                )
        return pairs

    def roc_auc(self):
        """ROC AUC averaged over classes: one-vs-rest (any scores, as label indicators) and
        one-vs-one (probabilities only); None where not computable."""
        if self.scores is None:
            return {"ovr": None, "ovo": None}
        indicators = label_binarize(self.y_true, classes=self.classes)
        ovr = float(metrics.roc_auc_score(indicators, self.scores, average="macro"))
        ovo = None
        if self.probabilities:
            ovo = float(
                metrics.roc_auc_score(
                    self.y_true, self.scores, multi_class="ovo", labels=self.classes
                )
            )
        return {"ovr": ovr, "ovo": ovo}

    def numbers(self):
        """Every number the evaluation shows, as plain Python values."""
        report = metrics.classification_report(
            self.y_true, self.y_pred, labels=self.classes, output_dict=True, zero_division=0
        )
        return {
            "accuracy": float(metrics.accuracy_score(self.y_true, self.y_pred)),
            "classification_report": {str(k): v for k, v in report.items()},
            "confusion_matrix": self.confusion_matrix().tolist(),
            "roc_auc": self.roc_auc(),
            "most_confused": self.most_confused(),
        }

    def plot_confusion_matrix(self, ax):
        """Counts, as `ConfusionMatrixDisplay` draws them."""
        display = metrics.ConfusionMatrixDisplay(
            self.confusion_matrix(), display_labels=self.classes
        )
        display.plot(ax=ax, colorbar=False, values_format="d")
        set_title(ax, f"{self.name}: confusion matrix")
        return display

    def plot_errors(self, ax):
        """The error matrix (row-normalised, diagonal zeroed), for error analysis."""
        errors = self.error_matrix()
        display = metrics.ConfusionMatrixDisplay(errors, display_labels=self.classes)
        size = "x-small" if len(self.classes) > 6 else "medium"  # "12.3%" in 10 columns
        display.plot(
            ax=ax, colorbar=False, values_format=".1%", cmap="Reds", text_kw={"fontsize": size}
        )
        if not errors.any():  # all cells take the palest colour: keep their text readable
            for text in display.text_.ravel():
                text.set_color("0.35")
        what = "errors by true class" if errors.any() else "no errors"
        set_title(ax, f"{self.name}: {what} (diagonal zeroed)")
        return display

    def plot_roc_ovr(self, ax):
        """One-vs-rest ROC curves, one per class (`RocCurveDisplay`)."""
        if self.scores is None:
            raise InvalidArgumentError("plot_roc_ovr needs the per-class scores.")
        for column, label in enumerate(self.classes):
            metrics.RocCurveDisplay.from_predictions(
                self.y_true == label,
                self.scores[:, column],
                name=f"{label} vs rest",
                ax=ax,
                plot_chance_level=column == len(self.classes) - 1,
            )
        ax.legend(fontsize="x-small", loc="lower right")
        set_title(ax, f"{self.name}: one-vs-rest ROC")
        return ax

    def plot_confused_examples(self, figure, images, *, pairs=3, examples=6):
        """Example images of the most-confused pairs: one row per (true, predicted) pair.

        Args:
            figure: A matplotlib Figure to draw on.
            images: The images of the evaluated rows, shape `(n, height, width)`.
            pairs: How many pairs. Defaults to `3`.
            examples: Images per pair. Defaults to `6`.
        """
        chosen = self.most_confused(pairs)
        if not chosen:
            return figure
        axes = figure.subplots(len(chosen), examples, squeeze=False)
        for row, pair in zip(axes, chosen):
            rows = np.flatnonzero(
                (self.y_true == pair["true"]) & (self.y_pred == pair["predicted"])
            )
            for ax, index in zip(row, list(rows[:examples]) + [None] * examples):
                ax.set_axis_off()
                if index is not None:
                    ax.imshow(images[index], cmap="binary")
            row[0].set_title(f"true {pair['true']}, taken for {pair['predicted']}", loc="left")
        return figure


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
