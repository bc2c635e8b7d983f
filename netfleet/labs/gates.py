"""The `gates` lab: the lecture's logic gates built from sigmoid units with hand-set weights
(AND, OR, NOT, then XNOR from a hidden layer), and XNOR learned by training a fleet of seeds
and learning rates in one run, with truth tables and decision boundaries."""

import numpy as np
import pandas as pd

from netfleet.fleet import sweep
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.reports import Report, new_figure, sweep_finals

TITLE = "Logic gates from sigmoid units"
DESCRIPTION = "hand-built AND / OR / NOT / XNOR networks, XNOR learned by a fleet"

X2 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
X1 = np.array([[0], [1]], dtype=np.float32)
# (bias, weights): h(x) = sigmoid(bias + weights . x), the lecture's Theta values
GATES = {
    "AND": (-30.0, [20.0, 20.0]),
    "OR": (-10.0, [20.0, 20.0]),
    "NOT": (10.0, [-20.0]),
    "(NOT x1) AND (NOT x2)": (10.0, [-20.0, -20.0]),
}
XNOR = np.array([1, 0, 0, 1], dtype=np.float32)
BOUNDARY_KEY = (
    "Background: the network's output over the plane, red near 0, blue near 1, white at "
    "0.5 (the decision boundary). Dots: the inputs, coloured by their target."
)


def settings(quick):
    """The lab's configuration: the grid XNOR is learned with, and its training."""
    return {
        "xnor_grid": {"learning_rate": [0.01, 0.1, 0.5], "seed": list(range(8))},
        "xnor_compile": {"optimizer": "adam", "loss": "binary_crossentropy"},
        "xnor_fit": {"batch_size": 4, "epochs": 400 if quick else 2000},
    }


def make_report(*, quick=False, progress):
    config = settings(quick)
    report = Report(
        TITLE,
        summary="A single sigmoid unit with hand-set weights computes AND, OR or NOT; XNOR "
        "needs a hidden layer. Training finds XNOR from some starting points and not from "
        "others: a fleet of seeds and learning rates shows which, in one run.",
        config={"lab": "gates", "quick": quick, **config},
    )
    progress.step("hand-built gates")
    _single_units(report.section("Single units: AND, OR, NOT"))
    _gates_as_one_fleet(report.section("AND, OR and NOR as one fleet of three members"))
    hand_xnor = _hand_built_xnor(report.section("XNOR from a hidden layer"))
    progress.step("learning XNOR")
    _learned_xnor(report.section("XNOR learned by training"), config, hand_xnor, progress)
    return report


def unit(bias, weights):
    """A one-unit sigmoid model with the given bias and weights."""
    model = Sequential([Dense(1, input_shape=(len(weights),), activation="sigmoid")])
    model.set_weights([np.array(weights).reshape(-1, 1), np.array([bias])])
    return model


def xnor_network():
    """The lecture's XNOR: hidden units AND and (NOT x1) AND (NOT x2), then OR."""
    model = Sequential(
        [Dense(2, input_shape=(2,), activation="sigmoid"), Dense(1, activation="sigmoid")]
    )
    (and_bias, and_weights), (nor_bias, nor_weights) = GATES["AND"], GATES["(NOT x1) AND (NOT x2)"]
    or_bias, or_weights = GATES["OR"]
    model.set_weights(
        [
            np.array([and_weights, nor_weights]).T,
            np.array([and_bias, nor_bias]),
            np.array(or_weights).reshape(2, 1),
            np.array([or_bias]),
        ]
    )
    return model


def _truth_table(inputs, bias, weights, output):
    frame = pd.DataFrame(inputs.astype(int), columns=[f"x{i + 1}" for i in range(inputs.shape[1])])
    frame["z = bias + w·x"] = bias + inputs @ np.array(weights)
    frame["h(x) = sigmoid(z)"] = output
    frame["rounded"] = np.round(output).astype(int)
    return frame


def _single_units(section):
    section.text(
        "Each gate is one Dense(1, activation='sigmoid') whose weights are set by hand with "
        "set_weights; the truth tables are the model's own predictions."
    )
    for name, (bias, weights) in GATES.items():
        inputs = X1 if len(weights) == 1 else X2
        output = unit(bias, weights).predict(inputs, verbose=0)[:, 0]
        key = name.replace("(", "").replace(")", "").replace(" ", "_").lower()
        section.table(f"truth_{key}", _truth_table(inputs, bias, weights, output), caption=name)


def _gates_as_one_fleet(section):
    names = ["AND", "OR", "(NOT x1) AND (NOT x2)"]
    fleet = Sequential([Dense(1, input_shape=(2,), activation="sigmoid")])
    fleet.set_members(3)
    fleet.set_weights(
        [
            np.array([GATES[n][1] for n in names])[..., None],
            np.array([[GATES[n][0]] for n in names]),
        ]
    )
    outputs = fleet.predict(X2, verbose=0)[..., 0]
    frame = pd.DataFrame(np.round(outputs.T).astype(int), columns=names)
    frame.insert(0, "x2", X2[:, 1].astype(int))
    frame.insert(0, "x1", X2[:, 0].astype(int))
    section.text(
        f"The three gates share one architecture, so they are one model of "
        f"{fleet.num_members} members: predict returns {outputs.shape[0]} sets of outputs."
    )
    section.table("fleet_of_gates", frame, caption="Rounded outputs of the three members")
    figure, axes = new_figure(1, 3, size=(12, 3.8))
    for ax, name, model in zip(axes, names, [unit(*GATES[n]) for n in names]):
        _boundary(ax, model, X2, np.round(model.predict(X2, verbose=0)[:, 0]), name)
    section.figure("gates_boundaries", figure, f"Each gate's decision boundary. {BOUNDARY_KEY}")


def _hand_built_xnor(section):
    model = xnor_network()
    hidden = np.asarray(model.layers[0](X2))
    output = model.predict(X2, verbose=0)[:, 0]
    frame = pd.DataFrame(X2.astype(int), columns=["x1", "x2"])
    frame["a1 = x1 AND x2"] = hidden[:, 0]
    frame["a2 = (NOT x1) AND (NOT x2)"] = hidden[:, 1]
    frame["h(x) = a1 OR a2"] = output
    frame["XNOR"] = XNOR.astype(int)
    section.text(
        "XNOR is not linearly separable. A hidden layer computes a1 = x1 AND x2 and "
        "a2 = (NOT x1) AND (NOT x2); the output unit computes a1 OR a2."
    )
    section.table("truth_xnor", frame, caption="XNOR, built by hand")
    figure, ax = new_figure(size=(5, 4.2))
    _boundary(ax, model, X2, XNOR, "XNOR (hand-built)")
    section.figure(
        "xnor_boundary",
        figure,
        f"Two hidden units draw two parallel lines: XNOR is 1 outside the band. {BOUNDARY_KEY}",
    )
    return model


def _learned_xnor(section, config, hand_xnor, progress):
    grid, fit = config["xnor_grid"], config["xnor_fit"]
    members = len(grid["learning_rate"]) * len(grid["seed"])
    result = sweep(
        _xnor_architecture,
        grid,
        X2,
        XNOR,
        compile={**config["xnor_compile"], "metrics": ["accuracy"]},
        fit={**fit, "callbacks": [progress.callback(members)]},
    )
    finals = sweep_finals(result)
    finals["outputs"] = [
        " ".join(f"{v:.2f}" for v in model.predict(X2, verbose=0)[:, 0]) for model in result.models
    ]
    learned = (finals["accuracy"] == 1.0).to_numpy()
    finals["learned XNOR"] = learned
    section.text(
        f"A 2-2-1 sigmoid network trained with Adam from {len(grid['seed'])} seeds at "
        f"{len(grid['learning_rate'])} learning rates: {members} members trained as "
        f"{len(result.groups)} batched run(s), {fit['epochs']} epochs of one batch of the four "
        f"rows. {int(learned.sum())} of {members} members learned XNOR; the others are stuck "
        "on a plateau (a local minimum): their outputs in the table below cannot tell some "
        "rows apart."
    )
    section.numbers(
        "xnor_training",
        {"members": members, "runs": len(result.groups), "learned": int(learned.sum())},
    )
    figure, axes = new_figure(1, len(grid["learning_rate"]), size=(12, 4), squeeze=False)
    _plot_xnor_losses(axes[0], result, learned, grid["learning_rate"])
    section.figure(
        "xnor_training",
        figure,
        "Loss per epoch (log scale), one line per seed, one panel per learning rate: green "
        "members learned XNOR, grey ones stopped on a plateau.",
    )
    section.table("xnor_members", finals, caption="Each member's final loss, accuracy, outputs")
    best_index = result.best_index("loss")
    best = ", ".join(f"{k}={v}" for k, v in result.configs[best_index].items())
    figure, axes = new_figure(1, 2, size=(10, 4.2))
    _boundary(axes[0], hand_xnor, X2, XNOR, "hand-built")
    _boundary(axes[1], result.models[best_index], X2, XNOR, f"learned (lowest loss: {best})")
    section.figure(
        "xnor_learned_boundary",
        figure,
        f"The hand-built XNOR and the learned member with the lowest loss. {BOUNDARY_KEY}",
    )


def _plot_xnor_losses(axes, result, learned, rates):
    """One panel per learning rate, one loss line per seed, green where XNOR was learned."""
    for ax, rate in zip(axes, rates):
        members = [i for i, c in enumerate(result.configs) if c["learning_rate"] == rate]
        for i in members:
            colour = "tab:green" if learned[i] else "0.6"
            ax.plot(result.histories[i]["loss"], color=colour, linewidth=1.2)
        count = int(sum(learned[i] for i in members))
        ax.set_title(f"learning_rate={rate}: {count} of {len(members)} learned")
        ax.set_yscale("log")
        ax.set_xlabel("Epochs")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("loss (binary cross-entropy)")
    handles = [
        axes[0].plot([], [], color="tab:green", label="learned XNOR")[0],
        axes[0].plot([], [], color="0.6", label="stuck on a plateau")[0],
    ]
    axes[-1].legend(handles=handles, loc="lower left", fontsize="small")


def _xnor_architecture():
    return Sequential(
        [Dense(2, input_shape=(2,), activation="sigmoid"), Dense(1, activation="sigmoid")]
    )


def _boundary(ax, model, points, labels, title):
    """The model's output over [-0.5, 1.5]^2 (`DecisionBoundaryDisplay`), with the points."""
    from sklearn.inspection import DecisionBoundaryDisplay

    xx0, xx1 = np.meshgrid(np.linspace(-0.5, 1.5, 101), np.linspace(-0.5, 1.5, 101))
    inputs = np.column_stack([xx0.ravel(), xx1.ravel()]).astype(np.float32)
    response = model.predict(inputs, verbose=0)[:, 0].reshape(xx0.shape)
    display = DecisionBoundaryDisplay(xx0=xx0, xx1=xx1, n_classes=2, response=response)
    display.plot(ax=ax, cmap="RdBu", alpha=0.6, levels=np.linspace(0, 1, 11))
    ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="RdBu", edgecolors="k", s=80)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title, fontsize="small")
