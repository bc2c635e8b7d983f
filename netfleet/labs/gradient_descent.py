"""The `gradient-descent` lab: the notebook end to end on the bundled banknotes and wines
data. A random-forest baseline, logistic regression as a one-unit network, the four
comparisons (learning rate, batch size, optimizer, initializer) each trained as one fleet
with `sweep`, the inner-layer representations, and the wines exercises."""

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.preprocessing import StandardScaler, scale

from netfleet import backend
from netfleet.callbacks import EarlyStopping
from netfleet.datasets import banknotes, wines
from netfleet.fleet import sweep
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.optimizers import Adam, RMSprop
from netfleet.reports import (
    BinaryEvaluation,
    MulticlassEvaluation,
    Report,
    empty_figure,
    new_figure,
    plot_history,
    plot_representations,
    plot_roc,
    plot_sweep,
    sweep_finals,
)
from netfleet.utils import set_random_seed, to_categorical

TITLE = "Gradient descent: the notebook on banknotes and wines"
DESCRIPTION = "baseline, logistic regression, four sweeps as fleets, inner layers, wines"

OPTIMIZERS = [
    "SGD(learning_rate=0.01)",
    "SGD(learning_rate=0.01, momentum=0.3)",
    "SGD(learning_rate=0.01, momentum=0.3, nesterov=True)",
    "Adam(learning_rate=0.01)",
    "Adagrad(learning_rate=0.01)",
    "RMSprop(learning_rate=0.01)",
]

# The notebook's four comparisons: (section title, grid, compile optimizer, batch, epochs).
COMPARISONS = {
    "learning_rates": (
        "Learning rates",
        {"learning_rate": [0.01, 0.05, 0.1, 0.5]},
        "sgd",
        16,
        10,
    ),
    "batch_sizes": ("Batch sizes", {"batch_size": [16, 32, 64, 128]}, "sgd", None, 10),
    "optimizers": ("Optimizers", {"optimizer": OPTIMIZERS}, None, 16, 5),
    "initializers": (
        "Initializers",
        {"kernel_initializer": ["zeros", "uniform", "normal", "he_normal", "lecun_uniform"]},
        "rmsprop",
        16,
        5,
    ),
}


def settings(quick):
    """The lab's configuration (the notebook's, with fewer epochs and seeds when quick)."""
    return {
        "seed": 42,
        "split": {"test_size": 0.3, "random_state": 42},
        "forest_trees": 30 if quick else 100,
        "comparisons": {
            key: {"grid": grid, "optimizer": optimizer, "batch_size": batch, "epochs": epochs}
            for key, (_, grid, optimizer, batch, epochs) in COMPARISONS.items()
        },
        "representation_epochs": 9 if quick else 25,
        "wine_seeds": 4 if quick else 8,
        "wine_epochs": 15 if quick else 30,
        "early_stopping_epochs": 40 if quick else 200,
    }


def make_report(*, quick=False, progress):
    config = settings(quick)
    report = Report(
        TITLE,
        summary="The Gradient Descent notebook, every loop of models trained as one fleet: "
        "each sweep's configurations train together in one batched run.",
        config={"lab": "gradient-descent", "quick": quick, **config},
    )
    frame = banknotes.load_frame()
    X = scale(frame.drop("class", axis=1).values)
    y = frame["class"].values
    split = train_test_split(X, y, **config["split"])
    progress.step("banknotes: baseline and logistic regression")
    _data(report.section("Banknotes"), frame)
    forest = _baseline(report.section("Baseline: a random forest"), X, y, split, config)
    _logistic(report.section("Logistic regression as a one-unit network"), split, forest, config)
    for key, (title, *_) in COMPARISONS.items():
        progress.step(f"sweep: {title.lower()}")
        _comparison(report.section(f"{title}, trained as one fleet"), key, split, config, progress)
    progress.step("inner-layer representations")
    _representations(report.section("Inner layer representation"), split, config)
    progress.step("wines exercises")
    _wines(report, config, progress)
    return report


def _one_unit(kernel_initializer="glorot_uniform"):
    return Sequential(
        [Dense(1, input_shape=(4,), kernel_initializer=kernel_initializer, activation="sigmoid")]
    )


def _data(section, frame):
    counts = frame["class"].value_counts().sort_index()
    section.text(
        f"{len(frame)} banknotes, four wavelet features, class 0 genuine and 1 forged. The "
        "features are scaled (sklearn.preprocessing.scale) and 30 % held out for testing."
    )
    section.table("class_counts", counts.to_frame("count"), caption="df['class'].value_counts()")


def _baseline(section, X, y, split, config):
    forest = RandomForestClassifier(n_estimators=config["forest_trees"], random_state=0)
    scores = cross_val_score(forest, X, y)
    section.numbers(
        "baseline", {"cross_val_score": scores, "mean": scores.mean()}, caption="5-fold accuracy"
    )
    X_train, _, y_train, _ = split
    return forest.fit(X_train, y_train)


def _logistic(section, split, forest, config):
    X_train, X_test, y_train, y_test = split
    set_random_seed(config["seed"])
    model = _one_unit()
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=10, verbose=0)
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    section.numbers("logistic_test", {"loss": loss, "accuracy": accuracy})
    figure, ax = new_figure(size=(8, 4.5))
    plot_history(history, ax, title=f"Test accuracy: {accuracy * 100:.1f} %")
    ax.set_ylim(0, 1)
    section.figure("logistic_history", figure, "historydf.plot(ylim=(0, 1))")
    evaluations = [
        *BinaryEvaluation.from_classifier(model, X_test, y_test, name="logistic regression"),
        *BinaryEvaluation.from_classifier(forest, X_test, y_test, name="random forest"),
    ]
    section.numbers("logistic_vs_forest", {e.name: e.numbers() for e in evaluations})
    figure, axes = new_figure(1, 2, size=(11, 4.5))
    plot_roc(evaluations, axes[0])
    evaluations[0].plot_confusion_matrix(axes[1])
    section.figure("logistic_roc", figure, "Test ROC of both models; the network's confusion")


def _comparison(section, key, split, config, progress):
    X_train, X_test, y_train, y_test = split
    spec = config["comparisons"][key]
    fit = {"epochs": spec["epochs"], "callbacks": [progress.callback(_size(spec["grid"]))]}
    if spec["batch_size"] is not None:
        fit["batch_size"] = spec["batch_size"]
    compile = {"loss": "binary_crossentropy", "metrics": ["accuracy"]}
    if spec["optimizer"] is not None:
        compile["optimizer"] = spec["optimizer"]
    result = sweep(
        _one_unit,
        spec["grid"],
        X_train,
        y_train,
        compile=compile,
        fit=fit,
        validation_data=(X_test, y_test),
        seed=config["seed"],
    )
    section.text(
        f"{len(result.configs)} configurations trained as {len(result.groups)} batched "
        f"run(s) by netfleet.fleet.sweep; the notebook trains them one after another."
    )
    figure = empty_figure(size=(11, 7))
    plot_sweep(result, figure)
    section.figure(key, figure, "Loss and accuracy per epoch, one line per swept value")
    finals = sweep_finals(result)
    section.table(f"{key}_final", finals, caption="Values at the last epoch")
    if key == "optimizers":
        momentum, nesterov = (finals["loss"].iloc[OPTIMIZERS.index(o)] for o in OPTIMIZERS[1:3])
        section.text(
            f"Momentum 0.3 without and with Nesterov end at losses {momentum:.5f} and "
            f"{nesterov:.5f}"
            + (": so close that their lines overlap." if abs(momentum - nesterov) < 0.01 else ".")
        )
    if key == "learning_rates":
        evaluations = [
            BinaryEvaluation.from_classifier(
                model, X_test, y_test, name=f"learning_rate={config_['learning_rate']}"
            )[0]
            for model, config_ in zip(result.models, result.configs)
        ]
        figure, ax = new_figure(size=(7, 5.5))
        plot_roc(evaluations, ax)
        section.figure(f"{key}_roc", figure, "Test ROC, one curve per member")


def _representations(section, split, config):
    X_train, X_test, y_train, y_test = split
    set_random_seed(config["seed"])
    model = Sequential([Dense(2, input_shape=(4,), activation="relu"), Dense(1, "sigmoid")])
    model.compile(
        loss="binary_crossentropy", optimizer=RMSprop(learning_rate=0.01), metrics=["accuracy"]
    )
    history = model.fit(X_train, y_train, batch_size=16, epochs=20, verbose=0, validation_split=0.3)
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    features = backend.function([model.layers[0].input], [model.layers[0].output])([X_test])[0]
    section.numbers("two_unit_test", {"loss": loss, "accuracy": accuracy})
    figure, axes = new_figure(1, 2, size=(11, 4.5))
    plot_history(history, axes[0], title="4-2-1 network, validation_split=0.3")
    axes[1].scatter(features[:, 0], features[:, 1], c=y_test, cmap="coolwarm", s=8)
    axes[1].set_title("Test set in the 2-unit hidden layer")
    section.figure(
        "two_unit",
        figure,
        "Left: the training history. Right: the test set in the 2-unit hidden layer (blue: "
        "genuine, red: forged); the two features separate the classes.",
    )

    set_random_seed(config["seed"])
    deeper = Sequential(
        [Dense(3, input_shape=(4,), activation="relu"), Dense(2, "relu"), Dense(1, "sigmoid")]
    )
    deeper.compile(
        loss="binary_crossentropy", optimizer=RMSprop(learning_rate=0.01), metrics=["accuracy"]
    )
    features_function = backend.function([deeper.layers[0].input], [deeper.layers[1].output])
    panels, accuracies = [], []
    for epoch in range(1, config["representation_epochs"] + 1):
        deeper.fit(X_train, y_train, batch_size=16, epochs=1, verbose=0)
        accuracy = float(deeper.evaluate(X_test, y_test, verbose=0)[1])
        accuracies.append(accuracy)
        title = f"Epoch: {epoch}, Test Acc: {accuracy * 100:.1f} %"
        panels.append((features_function([X_test])[0], title))
    section.numbers("representation_test_accuracy", {"per_epoch": accuracies})
    figure = empty_figure(size=(15, 10))
    plot_representations(figure, panels, y_test)
    section.figure(
        "representations",
        figure,
        "4-3-2-1 network: the test set in its 2-unit layer after each epoch (blue: genuine, "
        "red: forged; same axes in every panel). Training pulls the two classes apart.",
    )


def _wines(report, config, progress):
    frame = wines.load_frame()
    order = np.random.default_rng(0).permutation(len(frame))
    X = StandardScaler().fit_transform(frame.drop("Class", axis=1).values)[order]
    labels = frame["Class"].values[order] - 1
    y = to_categorical(labels, 3)

    section = report.section("Wines, exercise 1: a deep model, trained from several seeds")
    seeds = list(range(config["wine_seeds"]))
    result = sweep(
        lambda: Sequential([Dense(8, input_shape=(13,), activation="relu"), Dense(3, "softmax")]),
        {"seed": seeds},
        X,
        y,
        compile={
            "optimizer": "Adam(learning_rate=0.05)",
            "loss": "categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        fit={
            "batch_size": 16,
            "epochs": config["wine_epochs"],
            "validation_split": 0.2,
            "callbacks": [progress.callback(len(seeds))],
        },
    )
    stability = pd.DataFrame(
        {
            "seed": seeds,
            "best val_accuracy": [max(h["val_accuracy"]) for h in result.histories],
            "first epoch at best": [
                int(np.argmax(h["val_accuracy"])) + 1 for h in result.histories
            ],
            "final val_accuracy": [h["val_accuracy"][-1] for h in result.histories],
            "final val_loss": [h["val_loss"][-1] for h in result.histories],
            "final accuracy": [h["accuracy"][-1] for h in result.histories],
        }
    )
    best, trained = stability["best val_accuracy"], stability["final accuracy"]
    validation_rows = len(X) - int(len(X) * 0.8)
    section.text(
        f"{len(frame)} wines, 13 features, three classes (one-hot targets); rows shuffled once "
        "(the file is sorted by class, and validation_split holds out the last rows), "
        f"features standardised. The same 13-8-3 model (Adam, learning rate 0.05) from "
        f"{len(seeds)} seeds, trained as {len(result.groups)} batched run(s) with "
        f"validation_split=0.2 ({validation_rows} validation rows). Can it reach 100 % "
        f"validation accuracy? {int((best >= 1.0).sum())} of {len(seeds)} seeds did (best "
        f"validation accuracy {best.min():.3f} to {best.max():.3f}; final training accuracy "
        f"{trained.min():.3f} to {trained.max():.3f}). Where val_loss rises while "
        "val_accuracy holds, the model grows over-confident on the validation rows it gets "
        "wrong: it overfits the training rows."
    )
    section.table("wines_seeds", stability, caption="Each seed's run: how stable are the results?")
    figure = empty_figure(size=(11, 7))
    plot_sweep(result, figure, metrics=("val_loss", "val_accuracy"))
    section.figure("wines_seeds", figure, "Validation loss and accuracy, one line per seed")

    section = report.section("Wines, exercise 2: two high-level features")
    set_random_seed(config["seed"])
    model = Sequential(
        [
            Dense(8, input_shape=(13,), activation="tanh"),
            Dense(5, activation="tanh"),
            Dense(2),
            Dense(3, activation="softmax"),
        ]
    )
    model.compile(Adam(learning_rate=0.01), "categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(X, y, batch_size=16, epochs=20, verbose=0)
    accuracies = history.history["accuracy"]
    features = backend.function([model.layers[0].input], [model.layers[2].output])([X])[0]
    evaluation = MulticlassEvaluation.from_classifier(
        model, X, labels + 1, classes=[1, 2, 3], name="8-5-2-3 network"
    )[0]
    section.text(
        "Layers of 8 and 5 tanh units, then 2 linear units (a tanh there saturates: the "
        "points pile up in the corners at ±1), then 3 softmax units; Adam at learning rate "
        "0.01, 20 epochs on all the rows."
    )
    section.numbers(
        "wines_features_model",
        {
            "final_accuracy": accuracies[-1],
            "first_epoch_at_100_percent": next(
                (i + 1 for i, v in enumerate(accuracies) if v >= 1.0), None
            ),
        },
    )
    figure, axes = new_figure(1, 2, size=(11, 4.5))
    for code, name in enumerate(["class 1", "class 2", "class 3"]):
        rows = labels == code
        axes[0].scatter(features[rows, 0], features[rows, 1], s=14, alpha=0.7, label=name)
    axes[0].legend()
    axes[0].set_title("The 2-unit layer's features, coloured by class")
    evaluation.plot_confusion_matrix(axes[1])
    section.figure(
        "wines_features",
        figure,
        "13 features reduced to 2 by the network: the three classes fall apart (left), and "
        "the training rows are classified (right).",
    )

    section = report.section("Wines, exercise 4: EarlyStopping, one fleet of learning rates")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=42)
    rates = [0.001, 0.01, 0.1]
    set_random_seed(config["seed"])
    fleet = Sequential([Dense(8, input_shape=(13,), activation="relu"), Dense(3, "softmax")])
    fleet.compile(Adam(learning_rate=rates), "categorical_crossentropy", metrics=["accuracy"])
    stopper = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    history = fleet.fit(
        X_train,
        y_train,
        batch_size=16,
        epochs=config["early_stopping_epochs"],
        validation_data=(X_test, y_test),
        callbacks=[stopper, progress.callback(len(rates))],
        verbose=0,
    )
    loss, accuracy = fleet.evaluate(X_test, y_test, verbose=0)
    section.text(
        "Three learning rates as one fleet; EarlyStopping stops each member on its own when "
        "its val_loss stops improving and restores its best weights."
    )
    section.table(
        "early_stopping",
        pd.DataFrame(
            {
                "learning_rate": rates,
                "stopped_epoch": stopper.stopped_epochs,
                "best_epoch": stopper.best_epochs,
                "test_loss": loss,
                "test_accuracy": accuracy,
            }
        ),
    )
    figure, ax = new_figure(size=(9, 4.5))
    history.to_frame().xs("val_loss", axis=1, level="metric").plot(ax=ax)
    ax.set_title("val_loss per member (each line ends where its member stopped)")
    ax.set_xlabel("Epochs")
    section.figure(
        "early_stopping",
        figure,
        "One fit, three members: each stops when its own val_loss has not improved for 3 "
        "epochs (patience=3), while the others train on.",
    )


def _size(grid):
    return int(np.prod([len(values) for values in grid.values()]))
