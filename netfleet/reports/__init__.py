"""Evaluation displays and reports, built on scikit-learn's metrics and Display objects and
on matplotlib (off-screen; `import netfleet` does not import either).

- `BinaryEvaluation`, `plot_roc`, `plot_precision_recall`: the lecture's 5-detector measures
  for any classifier (a netfleet model, one curve per member of a fleet, a scikit-learn
  estimator), on given rows or out of fold (`cross_val_predict`).
- `MulticlassEvaluation`: confusion and error matrices, per-class scores, one-vs-rest and
  one-vs-one AUC, the most-confused pairs with example images.
- `RegressionEvaluation`: R², MAE, MSE, RMSE and the prediction-error plots of a regressor
  (one evaluation per member of a fleet).
- `plot_history`, `plot_sweep`, `sweep_finals`, `plot_representations`: the notebook's plots.
- `Report`, `rerender`, `load`: a report folder (`report.html`, PNG figures,
  `results.json`), written atomically, rendered again from its saved results.
"""

from netfleet.reports.binary import BinaryEvaluation, plot_precision_recall, plot_roc
from netfleet.reports.figures import empty_figure, new_figure, png_bytes
from netfleet.reports.multiclass import MulticlassEvaluation
from netfleet.reports.regression import RegressionEvaluation
from netfleet.reports.report import Report, Section, load, rerender
from netfleet.reports.scores import Scores, classifier_scores, cross_val_scores
from netfleet.reports.training import (
    history_frame,
    plot_history,
    plot_representations,
    plot_sweep,
    sweep_finals,
)

__all__ = [
    "BinaryEvaluation",
    "MulticlassEvaluation",
    "RegressionEvaluation",
    "Report",
    "Scores",
    "Section",
    "classifier_scores",
    "cross_val_scores",
    "empty_figure",
    "history_frame",
    "load",
    "new_figure",
    "plot_history",
    "plot_precision_recall",
    "plot_representations",
    "plot_roc",
    "plot_sweep",
    "png_bytes",
    "rerender",
    "sweep_finals",
]
