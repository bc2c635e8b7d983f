"""Training as the notebook plots it: a history (loss and accuracy per epoch), a sweep (one
line per swept value, via `SweepResult.plot`) and inner-layer 2-D representations."""

import math

import numpy as np
import pandas as pd

from netfleet.errors import InvalidArgumentError


def history_frame(history):
    """A History's (or a `history` dict's) values as a DataFrame indexed by epoch."""
    values = getattr(history, "history", history)
    frame = pd.DataFrame({key: list(v) for key, v in values.items()})
    frame.index.name = "epoch"
    return frame


def plot_history(history, ax, *, title=None):
    """Every logged metric against the epoch, as `pd.DataFrame(history.history).plot()`."""
    from matplotlib.ticker import MaxNLocator

    history_frame(history).plot(ax=ax)
    ax.set_xlabel("Epochs")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        ax.set_title(title)
    return ax


def sweep_finals(result):
    """One row per configuration of a `SweepResult`: its settings, then each metric's value
    at its last epoch."""
    rows = []
    for config, history in zip(result.configs, result.histories):
        settings = {name: _label(config.get(name)) for name in result.settings}
        finals = {metric: (values or [math.nan])[-1] for metric, values in history.items()}
        rows.append({**settings, "epochs": max(map(len, history.values()), default=0), **finals})
    return pd.DataFrame(rows)


def plot_sweep(result, figure, metrics=("loss", "accuracy")):
    """The notebook's sweep figure on `figure`: one panel per metric, one line per
    configuration (`SweepResult.plot`), each in its own colour."""
    from matplotlib.ticker import MaxNLocator

    axes = figure.subplots(len(metrics), 1, squeeze=False, sharex=True)[:, 0]
    result.plot(list(metrics), ax=axes)
    colours = _distinct_colours(len(result.configs))
    for ax in axes:
        for line, colour in zip(ax.get_lines(), colours):
            line.set_color(colour)
        ax.get_legend().remove()
        ax.set_xlabel("")
    axes[-1].set_xlabel("Epochs")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = axes[0].get_legend_handles_labels()
    title = ", ".join(name for name in result.settings)
    figure.legend(
        handles,
        labels,
        title=title,
        loc="outside right upper",
        fontsize="small" if len(labels) <= 8 else "x-small",
        ncols=math.ceil(len(labels) / 16),
    )
    return figure


def plot_representations(figure, panels, y, *, columns=None, limits=None):
    """Scatter plots of 2-D inner-layer features coloured by class, one panel each.

    Args:
        figure: A matplotlib Figure to draw on.
        panels: A list of `(features, title)`, features of shape `(n, 2)`.
        y: The class of each row, shape `(n,)`.
        columns: Panels per row. Defaults to about the square root of their number.
        limits: `((xmin, xmax), (ymin, ymax))` shared by all panels. Defaults to limits
            that hold every point of every panel, so that the panels compare.
    """
    if not panels:
        raise InvalidArgumentError("plot_representations needs at least one panel.")
    columns = columns or math.ceil(math.sqrt(len(panels)))
    rows = math.ceil(len(panels) / columns)
    axes = np.ravel(figure.subplots(rows, columns, squeeze=False))
    limits = _common_limits([f for f, _ in panels]) if limits is None else limits
    for ax, (features, title) in zip(axes, panels):
        features = np.asarray(features)
        ax.scatter(features[:, 0], features[:, 1], c=y, cmap="coolwarm", s=8, alpha=0.6)
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
        ax.set_title(title, fontsize="small")
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    return figure


def _distinct_colours(count):
    """`count` colours that tell lines apart: matplotlib's ten, then tab20, then a
    continuous colormap (so no two lines of one plot share a colour)."""
    from matplotlib import colormaps

    if count <= 10:
        return [f"C{i}" for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    return [colormaps["turbo"](v) for v in np.linspace(0.05, 0.95, count)]


def _common_limits(features, margin=0.05):
    points = np.concatenate([np.asarray(f) for f in features])
    low, high = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
    pad = np.maximum((high - low) * margin, 1e-3)
    return tuple((float(a), float(b)) for a, b in zip(low - pad, high + pad))


def _label(value):
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)
