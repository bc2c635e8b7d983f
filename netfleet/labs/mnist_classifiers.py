"""The MNIST lab's scikit-learn hands-on, section by section: the 5-detector (cross-validation,
the never-5 baseline, precision / recall, the threshold), classifiers compared by ROC (a
forest, a netfleet MLP, a fleet of learning rates), the multi-class strategies and the error
analysis. Each function fills one section of the report (`netfleet.labs.mnist`)."""

import warnings

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import cross_val_score
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.optimizers import SGD
from netfleet.reports import (
    BinaryEvaluation,
    MulticlassEvaluation,
    empty_figure,
    new_figure,
    plot_precision_recall,
    plot_roc,
)
from netfleet.sklearn import NetClassifier
from netfleet.utils import set_random_seed


def five_detector(section, X, y, config):
    y_5 = y == 5
    sgd = SGDClassifier(**config["sgd"])
    cv = config["cv"]
    accuracy = cross_val_score(sgd, X, y_5, cv=cv, scoring="accuracy")
    never_5 = cross_val_score(DummyClassifier(strategy="most_frequent"), X, y_5, cv=cv)
    section.text(
        "SGDClassifier(max_iter=1000, tol=1e-3, random_state=42) on the raw pixels, y_train "
        "== 5. Accuracy looks fine, but a classifier that never says 5 is right about 90 % "
        "of the time too."
    )
    section.numbers(
        "accuracy_cv", {"sgd": accuracy, "never_5": never_5}, caption="cross_val_score, k=3"
    )
    evaluation = BinaryEvaluation.from_cross_val(sgd, X, y_5, cv=cv, name="SGD")
    section.numbers(
        "sgd_5_detector",
        evaluation.numbers(),
        caption="cross_val_predict(method='decision_function'), threshold 0 (predict's)",
    )
    seeds = config["sgd_other_seeds"]
    section.text(
        "Where SGD's threshold 0 falls depends on the run: the lecture printed precision "
        "0.729 and recall 0.756 (F1 0.742, ROC AUC 0.961) with an older scikit-learn, Géron's "
        "book 0.837 and 0.651 with the same code."
        + (" The same protocol with other seeds:" if seeds else "")
    )
    if seeds:
        _seed_spread(section, X, y_5, config)
    target = config["target_precision"]
    chosen = evaluation.at_threshold(evaluation.threshold_for(precision=target))
    section.numbers(
        f"sgd_5_detector_precision_{target:g}",
        chosen.numbers(),
        caption=f"The lowest threshold giving precision >= {target:g}",
    )
    figure, axes = new_figure(1, 2, size=(12, 4.8))
    evaluation.plot_confusion_matrix(axes[0])
    chosen.plot_confusion_matrix(axes[1])
    section.figure(
        "sgd_confusion",
        figure,
        f"Confusion matrices (True: a 5) at threshold 0 and at the threshold chosen for "
        f"precision {target:g}: compare the false 5s (top right) and the missed ones "
        "(bottom left).",
    )
    figure, axes = new_figure(1, 2, size=(12, 4.8))
    chosen.plot_threshold_curves(axes[0])
    plot_precision_recall([evaluation], axes[1])
    chosen.plot_operating_point(axes[1], marker="s", color="tab:red")
    axes[1].legend(loc="lower left")
    section.figure(
        "sgd_threshold",
        figure,
        "The precision / recall trade-off. Left: raising the threshold (dotted line: the one "
        f"chosen for precision {target:g}) buys precision with recall. Right: the same "
        "trade-off as one curve, with the points of threshold 0 and of the chosen one.",
    )
    return evaluation


def _seed_spread(section, X, y_5, config):
    """The 5-detector's threshold-0 scores with other SGD seeds: how much is noise."""
    spread = {}
    for seed in config["sgd_other_seeds"]:
        other = SGDClassifier(**{**config["sgd"], "random_state": seed})
        numbers = BinaryEvaluation.from_cross_val(other, X, y_5, cv=config["cv"]).numbers()
        spread[f"random_state={seed}"] = {
            key: numbers[key] for key in ("precision", "recall", "f1", "roc_auc")
        }
    section.numbers(
        "sgd_5_detector_seeds",
        spread,
        caption="How far do precision and recall at threshold 0, and the ROC AUC, move with "
        "SGD's seed?",
    )


def comparison(section, sgd, X, y, X_test, y_test, config, progress):
    y_5 = y == 5
    forest = BinaryEvaluation.from_cross_val(
        RandomForestClassifier(n_estimators=config["forest_trees"], random_state=42),
        X,
        y_5,
        cv=config["cv"],
        name="random forest",
    )
    net = BinaryEvaluation.from_cross_val(
        NetClassifier(
            hidden_layer_sizes=(32,),
            epochs=config["net_epochs"],
            batch_size=128,
            seed=config["seed"],
            callbacks=[progress.callback()],
        ),
        pixels(X),
        y_5,
        cv=config["cv"],
        name="netfleet MLP (NetClassifier)",
    )
    evaluations = [sgd, forest, net]
    section.text(
        "Out-of-fold scores of three classifiers: SGD's decision_function, the forest's and "
        "the netfleet MLP's predict_proba (784-32-1, Adam), all through cross_val_predict."
    )
    section.numbers("roc_auc", {e.name: e.numbers()["roc_auc"] for e in evaluations})
    figure, axes = new_figure(1, 2, size=(12, 5))
    plot_roc(evaluations, axes[0])
    plot_precision_recall(evaluations, axes[1])
    section.figure(
        "roc_comparison",
        figure,
        "Several classifiers on one ROC and one precision-recall plot: the closer a curve "
        "comes to the top-left (ROC) or top-right (PR) corner, the better; the areas are in "
        "the legends.",
    )

    rates = config["fleet_learning_rates"]
    set_random_seed(config["seed"])
    fleet = Sequential([Dense(1, input_shape=(784,), activation="sigmoid")])
    fleet.compile(SGD(learning_rate=rates), "binary_crossentropy")
    fleet.fit(
        pixels(X),
        y_5,
        batch_size=32,
        epochs=2,
        verbose=0,
        callbacks=[progress.callback(len(rates))],
    )
    members = BinaryEvaluation.from_classifier(fleet, pixels(X_test), y_test == 5, name="fleet")
    for evaluation, rate in zip(members, rates):
        evaluation.name = f"learning_rate={rate}"
    section.text(
        f"A logistic-regression 5-detector at {len(rates)} learning rates, trained as one "
        "fleet (one model, one fit); on the test set each member gets its own curve."
    )
    section.numbers("fleet_test", {e.name: e.numbers() for e in members})
    figure, ax = new_figure(size=(7, 5.5))
    plot_roc(members, ax)
    section.figure(
        "fleet_roc", figure, "One ROC curve per member of the fleet, from one fit and one predict"
    )


def strategies(section, X, y, X_test, y_test, config):
    scaled = StandardScaler().fit(X)
    rows = config["svc_rows"]
    X_small, y_small = scaled.transform(X[:rows]), y[:rows]
    X_eval = scaled.transform(X_test)
    classifiers = {
        "SVC (one-vs-one inside)": SVC(random_state=42),
        "OneVsRestClassifier(SGDClassifier)": OneVsRestClassifier(SGDClassifier(**config["sgd"])),
        "OneVsOneClassifier(SGDClassifier)": OneVsOneClassifier(SGDClassifier(**config["sgd"])),
    }
    rows_out = []
    for name, classifier in classifiers.items():
        with warnings.catch_warnings():  # the 45 duels of OvO on a subset: SGD's max_iter
            warnings.simplefilter("ignore", ConvergenceWarning)
            classifier.fit(X_small, y_small)
        k = len(classifier.classes_)
        binary = len(getattr(classifier, "estimators_", [])) or k * (k - 1) // 2
        evaluation = MulticlassEvaluation.from_classifier(classifier, X_eval, y_test, name=name)[0]
        rows_out.append(
            {
                "classifier": name,
                "binary classifiers": binary,
                "test accuracy": evaluation.numbers()["accuracy"],
                "ROC AUC (one-vs-rest)": evaluation.roc_auc()["ovr"],
            }
        )
    section.text(
        f"Trained on the first {rows} images (scaled). SVC runs one-vs-one inside (45 duels "
        "for 10 classes); OneVsRestClassifier trains 10 detectors, OneVsOneClassifier 45."
    )
    section.table("strategies", pd.DataFrame(rows_out))


def errors(section, X, y, config):
    rows = config["multiclass_rows"]
    X_scaled = StandardScaler().fit_transform(X[:rows])
    evaluation = MulticlassEvaluation.from_cross_val(
        SGDClassifier(**config["sgd"]), X_scaled, y[:rows], cv=config["cv"], name="SGD"
    )
    numbers = evaluation.numbers()
    section.text(
        f"SGDClassifier on all ten classes (first {rows} images, scaled), predictions out of "
        "fold. The error matrix divides each row by its class's count and zeroes the "
        "diagonal, so only the errors remain."
    )
    per_class = numbers.pop("classification_report")
    section.numbers("error_analysis", numbers)
    report = pd.DataFrame(per_class).T.drop(index="accuracy")
    section.table("classification_report", report, caption="classification_report")
    figure, axes = new_figure(1, 2, size=(13, 5.6))
    evaluation.plot_confusion_matrix(axes[0])
    evaluation.plot_errors(axes[1])
    section.figure(
        "error_matrices",
        figure,
        "Left: counts (rows: true digit, columns: predicted). Right: each row divided by its "
        "digit's count, diagonal zeroed: the darker a cell, the more of that digit is taken "
        "for the column's. Look for dark columns (a digit many others are taken for) and "
        "dark pairs.",
    )
    figure, ax = new_figure(size=(7, 5.5))
    evaluation.plot_roc_ovr(ax)
    section.figure(
        "roc_ovr",
        figure,
        "One-vs-rest ROC, one curve per digit: the lowest curves are the "
        "hardest digits to tell from the rest",
    )
    figure = empty_figure(size=(9, 4.5))
    evaluation.plot_confused_examples(figure, X[:rows].reshape(-1, 28, 28))
    section.figure(
        "confused_examples",
        figure,
        "Training images of the most-confused pairs (the darkest cells of the error matrix), "
        "as the classifier saw them",
    )


def pixels(X):
    """The lecture's preparation for a network: float32 pixels scaled to [0, 1]."""
    return X.astype(np.float32) / 255
