"""The report of a user's experiment: what was trained, the sweep's curves and final values,
and each configuration judged on the held-out rows (a classifier by its confusion, ROC and
per-class scores; a regressor by R², MAE and its prediction errors)."""

import pandas as pd

from netfleet.reports import (
    BinaryEvaluation,
    MulticlassEvaluation,
    RegressionEvaluation,
    Report,
    empty_figure,
    new_figure,
    plot_roc,
    plot_sweep,
    sweep_finals,
)


def make_report(experiment, data, result, overrides):
    """A `Report` of a finished experiment (`result`: its `SweepResult`)."""
    config = {k: v for k, v in experiment.items() if k != "folder"}
    report = Report(
        experiment["title"],
        summary=f"Experiment {experiment['path']}"
        + (f" with --set {' '.join(overrides)}" if overrides else "")
        + ".",
        config={**config, "overrides": list(overrides)},
    )
    regression = data["task"] == "regression"
    section = report.section("Experiment")
    if regression:
        target = f"target {data['target']!r} (regression: one number per row)"
        if data["target_scaler"] is not None:
            target += ", scaled for training as the features are"
    else:
        target = f"target {data['target']!r} with {len(data['classes'])} classes"
    section.text(
        f"{len(data['X_train'])} training and {len(data['X_test'])} test rows, "
        f"{len(data['features'])} features, {target}. {len(result.configs)} configurations "
        f"trained as {len(result.groups)} batched run(s) by netfleet.fleet.sweep."
    )
    facts = {
        "train_rows": len(data["X_train"]),
        "test_rows": len(data["X_test"]),
        "features": data["features"],
        "runs": len(result.groups),
    }
    if not regression:
        facts["classes"] = [str(c) for c in data["classes"]]
    section.numbers("data", facts)
    section = report.section("Training")
    logged = [m for m in result.metrics if m != "loss" and not m.startswith("val_")]
    metrics = ["loss", *logged[:1]]
    metrics += [f"val_{m}" for m in metrics if f"val_{m}" in result.metrics]
    figure = empty_figure(size=(11, 2.6 * len(metrics) + 1))
    plot_sweep(result, figure, metrics=metrics)
    units = " (in the scaled target's units)" if regression and data["target_scaler"] else ""
    section.figure("training", figure, f"One line per configuration{units}")
    section.table("final", sweep_finals(result), caption=f"Values at the last epoch{units}")
    if len(data["X_test"]) and result.models:
        evaluate = _evaluate_regression if regression else _evaluate
        evaluate(report.section("Test evaluation"), result, data)
    return report


def _names(result):
    return [", ".join(f"{k}={v}" for k, v in c.items()) for c in result.configs]


def _evaluate_regression(section, result, data):
    scaler = data["target_scaler"]
    inverse = None if scaler is None else scaler.inverse_transform
    X_test, y_test = data["X_test"], data["y_test_units"]
    names = _names(result)
    evaluations = [
        RegressionEvaluation.from_regressor(model, X_test, y_test, name=name, inverse=inverse)[0]
        for model, name in zip(result.models, names)
    ]
    section.text(
        f"Each configuration's predictions for the {len(y_test)} test rows, in the units of "
        f"{data['target']}: R² (1 is perfect, 0 is no better than predicting the mean), mean "
        "absolute and squared errors."
    )
    section.table("test_scores", pd.DataFrame([e.numbers() for e in evaluations], index=names))
    best = result.best_index()
    figure, axes = new_figure(1, 2, size=(12, 5))
    evaluations[best].plot_predictions(axes[0])
    evaluations[best].plot_predictions(axes[1], kind="residual_vs_predicted")
    section.figure(
        "test_evaluation",
        figure,
        f"The best configuration by final val_loss ({names[best]}): on the dashed line the "
        "prediction is exact; the residuals should scatter evenly around 0.",
    )


def _evaluate(section, result, data):
    X_test, y_test, classes = data["X_test"], data["y_test"], data["classes"]
    names = _names(result)
    best = result.best_index()
    if len(classes) == 2:
        evaluations = [
            BinaryEvaluation.from_classifier(model, X_test, y_test, name=name)[0]
            for model, name in zip(result.models, names)
        ]
        section.table(
            "test_scores",
            pd.DataFrame([e.numbers() for e in evaluations], index=names).drop(
                columns="confusion_matrix"
            ),
        )
        figure, axes = new_figure(1, 2, size=(12, 5))
        plot_roc(evaluations, axes[0])
        evaluations[best].plot_confusion_matrix(axes[1])
        caption = (
            f"Test ROC of every configuration (positive class: {classes[1]}), and the confusion "
            f"of the best by final val_loss ({names[best]}), True meaning {classes[1]}."
        )
    else:
        evaluations = [
            MulticlassEvaluation.from_classifier(
                model, X_test, classes[y_test], classes=classes, name=name
            )[0]
            for model, name in zip(result.models, names)
        ]
        rows = []
        for e in evaluations:
            numbers = e.numbers()
            macro = numbers["classification_report"]["macro avg"]
            rows.append(
                {
                    "accuracy": numbers["accuracy"],
                    "macro precision": macro["precision"],
                    "macro recall": macro["recall"],
                    "macro f1": macro["f1-score"],
                    "roc_auc ovr": numbers["roc_auc"]["ovr"],
                    "roc_auc ovo": numbers["roc_auc"]["ovo"],
                }
            )
        section.table("test_scores", pd.DataFrame(rows, index=names))
        figure, axes = new_figure(1, 2, size=(12, 5))
        evaluations[best].plot_confusion_matrix(axes[0])
        evaluations[best].plot_errors(axes[1])
        caption = (
            f"The best configuration by final val_loss ({names[best]}) on the test rows: its "
            "confusion matrix, and the share of each true class taken for each other class."
        )
    section.figure("test_evaluation", figure, caption)
