"""The notebook's training plots: sweeps with one colour per configuration, inner-layer
representations on shared axes."""

import numpy as np

from netfleet.fleet.results import SweepResult
from netfleet.reports import empty_figure, plot_representations, plot_sweep, sweep_finals


def _result(count):
    configs = [{"learning_rate": 0.01 * (i + 1)} for i in range(count)]
    histories = [
        {"loss": [1.0 / (i + 1), 0.5 / (i + 1)], "accuracy": [0.5, 0.6]} for i in range(count)
    ]
    return SweepResult(configs, histories)


def test_a_sweep_of_many_configurations_gives_each_line_its_own_colour():
    figure = empty_figure()
    plot_sweep(_result(14), figure)
    loss, accuracy = figure.axes
    colours = [tuple(np.round(line.get_color(), 4)) for line in loss.get_lines()]
    assert len(colours) == 14 and len(set(colours)) == 14  # more than matplotlib's ten
    assert [line.get_color() for line in accuracy.get_lines()] == [
        line.get_color() for line in loss.get_lines()
    ]
    assert len(figure.legends) == 1 and loss.get_legend() is None
    assert loss.get_xlabel() == "" and accuracy.get_xlabel() == "Epochs"


def test_sweep_finals_has_each_configurations_last_values():
    finals = sweep_finals(_result(3))
    assert finals["learning_rate"].tolist() == [0.01, 0.02, 0.03]
    assert finals["loss"].tolist() == [0.5, 0.25, 0.5 / 3]
    assert finals["epochs"].tolist() == [2, 2, 2]


def test_representations_share_axes_that_hold_every_point():
    rng = np.random.default_rng(0)
    panels = [
        (rng.normal(scale=scale, size=(20, 2)), f"epoch {i}") for i, scale in enumerate([1, 5])
    ]
    figure = empty_figure()
    plot_representations(figure, panels, y=np.arange(20) % 2)
    points = np.concatenate([features for features, _ in panels])
    for ax in figure.axes:
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        assert x0 < points[:, 0].min() and x1 > points[:, 0].max()
        assert y0 < points[:, 1].min() and y1 > points[:, 1].max()
    assert figure.axes[0].get_xlim() == figure.axes[1].get_xlim()
