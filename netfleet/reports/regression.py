"""Evaluating a regressor: R², MAE, MSE and RMSE from scikit-learn's metrics, and the
actual-against-predicted and residual plots of its `PredictionErrorDisplay`.

`RegressionEvaluation` holds the true targets and one regressor's predictions; a fleet gives
one evaluation per member, so the members of a sweep compare in one table.
"""

import math

import numpy as np
from sklearn import metrics

from netfleet.errors import InvalidArgumentError
from netfleet.models import Model
from netfleet.reports.figures import set_title


class RegressionEvaluation:
    """The true targets and one regressor's predictions for them.

    Args:
        y_true: Targets, shape `(n,)`.
        y_pred: Predictions, shape `(n,)`.
        name: The regressor's name in titles. Defaults to `"regressor"`.
    """

    def __init__(self, y_true, y_pred, *, name="regressor"):
        self.y_true = np.asarray(y_true, dtype=float)
        self.y_pred = np.asarray(y_pred, dtype=float)
        if self.y_true.shape != self.y_pred.shape or self.y_true.ndim != 1:
            raise InvalidArgumentError(
                "RegressionEvaluation needs one prediction per target, both of shape (n,). "
                f"Got targets {self.y_true.shape} and predictions {self.y_pred.shape}."
            )
        self.name = name

    @classmethod
    def from_regressor(cls, regressor, X, y, *, name="regressor", inverse=None):
        """One evaluation per member of a fitted regressor with one output (a netfleet
        model or fleet, or a scikit-learn regressor).

        Args:
            regressor: The fitted regressor; a fleet gives M evaluations, named
                `"name [i]"`.
            X: The rows to predict.
            y: Their true targets, in the units the report shows.
            name: The regressor's name. Defaults to `"regressor"`.
            inverse: A function mapping predictions back to `y`'s units (a target scaler's
                `inverse_transform` on a column). Defaults to none.
        """
        if isinstance(regressor, Model):
            raw = np.asarray(regressor.predict(X, verbose=0), dtype=float)
            members = raw if regressor.num_members > 1 else raw[None]
        else:
            members = np.asarray(regressor.predict(X), dtype=float)[None]
        members = members.reshape(len(members), len(X), -1)
        if members.shape[-1] != 1:
            raise InvalidArgumentError(
                f"RegressionEvaluation needs one output per row. Got {members.shape[-1]}."
            )
        names = [name] if len(members) == 1 else [f"{name} [{i}]" for i in range(len(members))]
        evaluations = []
        for label, predictions in zip(names, members):
            values = predictions if inverse is None else inverse(predictions)
            evaluations.append(cls(y, np.ravel(values), name=label))
        return evaluations

    def numbers(self):
        """Every number the evaluation shows, as plain Python values."""
        mse = float(metrics.mean_squared_error(self.y_true, self.y_pred))
        return {
            "r2": float(metrics.r2_score(self.y_true, self.y_pred)),
            "mae": float(metrics.mean_absolute_error(self.y_true, self.y_pred)),
            "mse": mse,
            "rmse": math.sqrt(mse),
        }

    def plot_predictions(self, ax, kind="actual_vs_predicted"):
        """Actual against predicted targets (the diagonal is a perfect regressor), or the
        residuals against the predictions with `kind="residual_vs_predicted"`."""
        display = metrics.PredictionErrorDisplay.from_predictions(
            self.y_true, self.y_pred, kind=kind, ax=ax, subsample=None
        )
        r2 = self.numbers()["r2"]
        what = "actual against predicted" if kind == "actual_vs_predicted" else "residuals"
        set_title(ax, f"{self.name}: {what} (R² = {r2:.3f})", fontsize="medium")
        return display
