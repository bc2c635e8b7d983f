"""The `mnist` lab: the lecture's MNIST hands-on (the 5-detector with cross-validation, the
never-5 baseline, precision / recall / F1, the threshold, ROC and AUC, random forest against
SGD, one-vs-one and one-vs-rest, error analysis), then the Keras MLP with its history, then
the lecture's grid search as a `FleetSearchCV` with its pivot table.

MNIST comes from `$NETFLEET_DATA` or the cached download (`netfleet.datasets.mnist`).
"""

import numpy as np
import pandas as pd

from netfleet.datasets import mnist
from netfleet.labs.mnist_classifiers import comparison, errors, five_detector, pixels, strategies
from netfleet.layers import Activation, Dense
from netfleet.models import Sequential
from netfleet.reports import MulticlassEvaluation, Report, new_figure, plot_history
from netfleet.sklearn import FleetSearchCV
from netfleet.utils import set_random_seed, to_categorical
from netfleet.wrappers.scikit_learn import KerasClassifier

TITLE = "MNIST: the lecture's hands-on, the Keras MLP and the grid search"
DESCRIPTION = "5-detector, PR / ROC, multi-class and error analysis, MLP, FleetSearchCV"


def settings(quick):
    """The lab's configuration: the lecture's protocol, on subsets when quick."""
    return {
        "seed": 42,
        "train_rows": 3000 if quick else 60000,
        "test_rows": 1000 if quick else 10000,
        "cv": 3,
        "sgd": {"max_iter": 1000, "tol": 1e-3, "random_state": 42},
        "sgd_other_seeds": [] if quick else [0, 1, 2, 3, 4],
        "forest_trees": 20 if quick else 100,
        "target_precision": 0.9,
        "multiclass_rows": 1500 if quick else 10000,
        "svc_rows": 1000 if quick else 2000,
        "net_epochs": 2 if quick else 5,
        "fleet_learning_rates": [0.001, 0.01, 0.1],
        "mlp": {"batch_size": 128, "epochs": 5 if quick else 10, "validation_split": 0.1},
        "grid": (
            {"epochs": [1, 3], "hidden_size": [32, 64]}
            if quick
            else {"epochs": [1, 5, 10], "hidden_size": [32, 64, 256]}
        ),
        "grid_cv": 3 if quick else 5,
        "grid_rows": 2000 if quick else 60000,
    }


def make_report(*, quick=False, progress):
    config = settings(quick)
    progress.step("loading MNIST")
    (X_train, y_train), (X_test, y_test) = mnist.load_data()
    # float64 pixels, as fetch_openml gives them to the lecture: scikit-learn's SGD keeps
    # float32 input in float32, and its 5-detector then lands elsewhere (see mnist_classifiers)
    X_train = X_train[: config["train_rows"]].reshape(-1, 784).astype(np.float64)
    y_train = y_train[: config["train_rows"]].astype(np.int64)
    X_test = X_test[: config["test_rows"]].reshape(-1, 784).astype(np.float64)
    y_test = y_test[: config["test_rows"]].astype(np.int64)
    report = Report(
        TITLE,
        summary=f"{len(X_train)} training and {len(X_test)} test images"
        + (" (quick run: subsets)" if quick else " (the lecture's split)")
        + ". Classifiers of scikit-learn and netfleet judged with the same displays.",
        config={"lab": "mnist", "quick": quick, **config},
    )
    _data(report.section("The data"), X_train, y_train)
    progress.step("5-detector: SGD, cross-validation, the never-5 baseline")
    sgd = five_detector(report.section("A 5-detector"), X_train, y_train, config)
    progress.step("5-detector: random forest, a netfleet MLP and a fleet against SGD")
    comparison(
        report.section("Comparing classifiers by ROC"),
        sgd,
        X_train,
        y_train,
        X_test,
        y_test,
        config,
        progress,
    )
    progress.step("multi-class: SVC, one-vs-rest, one-vs-one")
    strategies(report.section("Multi-class strategies"), X_train, y_train, X_test, y_test, config)
    progress.step("error analysis")
    errors(report.section("Error analysis"), X_train, y_train, config)
    progress.step("the Keras MLP")
    _mlp(report.section("The Keras MLP"), X_train, y_train, X_test, y_test, config, progress)
    progress.step("grid search as a FleetSearchCV")
    _grid_search(
        report.section("Grid search, trained as fleets"), X_train, y_train, config, progress
    )
    return report


def _data(section, X, y):
    figure, axes = new_figure(10, 10, size=(7, 7.4))
    for index, ax in enumerate(np.ravel(axes)):
        ax.imshow(X[index].reshape(28, 28), cmap="binary")
        ax.set_axis_off()
        ax.set_title(str(y[index]), fontsize="x-small")
    section.figure("digits", figure, "The first 100 training images and their labels")
    section.numbers("class_counts", dict(zip(*map(list, np.unique(y, return_counts=True)))))


def make_model(optimizer="adam", hidden_size=32):
    """The lecture's network: 784 -> hidden_size relu -> 10 softmax."""
    model = Sequential(
        [
            Dense(hidden_size, input_shape=(784,)),
            Activation("relu"),
            Dense(10),
            Activation("softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _mlp(section, X, y, X_test, y_test, config, progress):
    set_random_seed(config["seed"])
    model = make_model()
    history = model.fit(
        pixels(X),
        to_categorical(y, 10),
        verbose=0,
        callbacks=[progress.callback()],
        **config["mlp"],
    )
    loss, accuracy = model.evaluate(pixels(X_test), to_categorical(y_test, 10), verbose=0)
    evaluation = MulticlassEvaluation.from_classifier(model, pixels(X_test), y_test, name="MLP")[0]
    numbers = evaluation.numbers()
    per_class = numbers.pop("classification_report")
    section.text(
        f"The lecture's 784-32-10 network (Adam), fit(batch_size=128, epochs="
        f"{config['mlp']['epochs']}, validation_split=0.1), then evaluate on the "
        f"{len(y_test)} test images."
    )
    section.numbers("mlp_test", {"loss": loss, **numbers, "accuracy": accuracy})
    report = pd.DataFrame(per_class).T.drop(index="accuracy")
    section.table("mlp_classification_report", report, caption="classification_report (test)")
    figure, axes = new_figure(1, 2, size=(13, 5))
    plot_history(history, axes[0], title=f"Test accuracy {accuracy:.3f}")
    evaluation.plot_errors(axes[1])
    section.figure(
        "mlp",
        figure,
        "Left: pd.DataFrame(history.history).plot(), the lecture's figure: loss and accuracy "
        "on the training rows and on the 10 % held out by validation_split. Right: the test "
        "errors by true digit.",
    )


def _grid_search(section, X, y, config, progress):
    rows, grid = config["grid_rows"], config["grid"]
    trajectories = int(np.prod([len(v) for k, v in grid.items() if k != "epochs"]))
    clf = KerasClassifier(make_model, callbacks=[progress.callback()], seed=config["seed"])
    search = FleetSearchCV(clf, param_grid=grid, cv=config["grid_cv"], return_train_score=True)
    search.fit(pixels(X[:rows]), to_categorical(y[:rows], 10))
    results = pd.DataFrame(search.cv_results_)
    pivot = results.pivot_table(
        index=["param_epochs", "param_hidden_size"], values=["mean_train_score", "mean_test_score"]
    )
    section.text(
        f"FleetSearchCV(KerasClassifier(make_model), {grid}) with cv={config['grid_cv']} on "
        f"{rows} images: {len(results)} candidates x {config['grid_cv']} folds, and candidates "
        f"that differ only in epochs read off one trajectory ({trajectories * config['grid_cv']}"
        " members trained in batched fleets)."
    )
    section.table("grid_pivot", pivot, caption="res.pivot_table(...), the lecture's table")
    section.numbers(
        "grid_best", {"best_params": search.best_params_, "best_score": search.best_score_}
    )
    figure, ax = new_figure(size=(8, 4.8))
    scores = results.pivot_table(
        index="param_epochs", columns="param_hidden_size", values="mean_test_score"
    )
    scores.plot(ax=ax, marker="o")
    ax.set_ylabel("mean_test_score")
    ax.set_title("Cross-validated accuracy, one line per hidden_size")
    section.figure(
        "grid_scores",
        figure,
        "The pivot table as a plot: how does the cross-validated accuracy grow with the "
        "epochs (x axis) and the hidden units (one line each)?",
    )
