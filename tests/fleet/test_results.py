"""Tests for netfleet.fleet.results.SweepResult: the wide frame, the long table, best,
saving and loading without retraining, and the plot."""

import json
import math
import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest

from netfleet.errors import InvalidArgumentError
from netfleet.fleet import SweepResult, sweep
from netfleet.optimizers import SGD

matplotlib.use("Agg")

HISTORIES = [
    {"loss": [0.6, 0.4, 0.3], "accuracy": [0.7, 0.8, 0.85]},
    {"loss": [0.5, 0.2, 0.1], "accuracy": [0.75, 0.9, 0.95]},
    {"loss": [0.9, 0.8], "accuracy": [0.5, 0.6]},
]
CONFIGS = [{"learning_rate": 0.01}, {"learning_rate": 0.1}, {"learning_rate": 0.5}]


@pytest.fixture
def result():
    return SweepResult(CONFIGS, HISTORIES, groups=[[0, 1, 2]])


@pytest.fixture(scope="module")
def trained(banknotes_split, build_model):
    """A real sweep (the notebook's learning rates, 3 epochs) with validation data."""
    X_train, X_test, y_train, y_test = banknotes_split
    return sweep(
        build_model,
        {"learning_rate": [0.01, 0.05, 0.1, 0.5]},
        X_train,
        y_train,
        compile={"optimizer": "sgd", "loss": "binary_crossentropy", "metrics": ["accuracy"]},
        fit={"batch_size": 16, "epochs": 3},
        validation_data=(X_test, y_test),
        seed=0,
    )


# -- the frame ------------------------------------------------------------------------------------
def test_frame_is_the_notebooks_historydf(result):
    frame = result.frame
    assert frame.index.name == "epoch"
    assert frame.index.tolist() == [0, 1, 2]
    assert frame.columns.names == ["learning_rate", "metric"]
    expected = pd.MultiIndex.from_product(
        [[0.01, 0.1, 0.5], ["loss", "accuracy"]], names=["learning_rate", "metric"]
    )
    assert frame.columns.equals(expected)
    assert frame[(0.1, "loss")].tolist() == [0.5, 0.2, 0.1]


def test_frame_supports_the_notebooks_cross_section(result):
    loss = result.frame.xs("loss", axis=1, level="metric")
    assert loss.columns.tolist() == [0.01, 0.1, 0.5]
    assert loss.columns.name == "learning_rate"
    assert loss.loc[1].tolist() == [0.4, 0.2, 0.8]


def test_a_shorter_configuration_ends_in_nan(result):
    assert math.isnan(result.frame.loc[2, (0.5, "loss")])
    assert result.frame.loc[1, (0.5, "loss")] == 0.8


def test_frame_labels_settings_that_are_objects_by_their_repr():
    optimizer = SGD(learning_rate=0.2)
    result = SweepResult([{"optimizer": optimizer}], [{"loss": [1.0]}])
    assert result.frame.columns.tolist() == [(repr(optimizer), "loss")]


def test_configurations_without_settings_are_labelled_by_index():
    result = SweepResult([{}, {}], [{"loss": [1.0]}, {"loss": [2.0]}])
    assert result.frame.columns.tolist() == [(0, "loss"), (1, "loss")]
    assert result.settings == []


# -- the table ------------------------------------------------------------------------------------
def test_table_has_one_row_per_configuration_epoch_and_metric(result):
    table = result.table
    assert table.columns.tolist() == ["config", "learning_rate", "epoch", "metric", "value"]
    assert len(table) == 2 * (3 + 3 + 2)
    row = table[(table.config == 1) & (table.epoch == 2) & (table.metric == "accuracy")]
    assert row[["learning_rate", "value"]].values.tolist() == [[0.1, 0.95]]


def test_table_pivots_back_to_the_frame(result):
    pivot = result.table.pivot_table(
        index="epoch", columns=["learning_rate", "metric"], values="value", sort=False
    )
    pd.testing.assert_frame_equal(pivot, result.frame, check_names=False)


def test_table_fills_settings_a_configuration_does_not_set():
    result = SweepResult([{"units": 4}, {"learning_rate": 0.1}], [{"loss": [1.0]}, {"loss": [2.0]}])
    table = result.table
    assert table.columns.tolist() == [
        "config",
        "units",
        "learning_rate",
        "epoch",
        "metric",
        "value",
    ]
    assert table["units"].isna().tolist() == [False, True]


# -- best -----------------------------------------------------------------------------------------
def test_best_reads_the_final_epoch_in_the_metrics_direction(result):
    assert result.best("accuracy") == {"learning_rate": 0.1}
    assert result.best("loss") == {"learning_rate": 0.1}
    assert result.best() == {"learning_rate": 0.1}  # loss: there is no val_loss
    assert result.best("loss", mode="max") == {"learning_rate": 0.5}
    assert result.best_index("accuracy", mode="min") == 2


def test_best_rejects_unknown_metrics_and_modes(result):
    with pytest.raises(InvalidArgumentError, match="No metric 'val_accuracy'.*loss, accuracy"):
        result.best("val_accuracy")
    with pytest.raises(InvalidArgumentError, match="'mode'"):
        result.best("loss", mode="lowest")


def test_best_skips_configurations_that_diverged():
    histories = [{"loss": [0.5, math.nan]}, {"loss": [0.7, 0.6]}]
    assert SweepResult([{"lr": 9.0}, {"lr": 0.1}], histories).best("loss") == {"lr": 0.1}


def test_best_on_a_real_sweep_agrees_with_the_frame(trained):
    final = trained.frame.xs("val_accuracy", axis=1, level="metric").iloc[-1]
    assert trained.best("val_accuracy") == {"learning_rate": final.idxmax()}
    final_loss = trained.frame.xs("val_loss", axis=1, level="metric").iloc[-1]
    assert trained.best() == {"learning_rate": final_loss.idxmin()}
    best = trained.best_model("val_loss")
    assert best is trained.models[trained.best_index("val_loss")]


def test_best_model_needs_the_models(result):
    with pytest.raises(InvalidArgumentError, match="holds no models"):
        result.best_model("loss")


# -- save / load ----------------------------------------------------------------------------------
def test_save_and_load_give_the_same_frame_and_table_without_models(trained, tmp_path):
    path = tmp_path / "lr_sweep.json"
    trained.save(path)
    loaded = SweepResult.load(path)
    pd.testing.assert_frame_equal(loaded.frame, trained.frame)
    pd.testing.assert_frame_equal(loaded.table, trained.table)
    assert loaded.configs == trained.configs
    assert loaded.groups == trained.groups == [[0, 1, 2, 3]]
    assert loaded.best("val_accuracy") == trained.best("val_accuracy")
    assert loaded.models is None
    assert [p.name for p in tmp_path.iterdir()] == ["lr_sweep.json"]


def test_saved_results_are_plain_json_with_object_settings_as_repr(tmp_path):
    optimizer = SGD(learning_rate=0.2)
    configs = [{"optimizer": optimizer, "metrics": ["accuracy"], "units": None}]
    result = SweepResult(configs, [{"loss": [0.5, 0.25]}])
    result.save(tmp_path / "r.json")
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["format"] == "netfleet.sweep"
    assert document["configs"] == [
        {"optimizer": repr(optimizer), "metrics": "['accuracy']", "units": None}
    ]
    loaded = SweepResult.load(tmp_path / "r.json")
    pd.testing.assert_frame_equal(loaded.frame, result.frame)
    pd.testing.assert_frame_equal(loaded.table, result.table)


def test_save_replaces_an_old_file_whole(result, tmp_path):
    path = tmp_path / "r.json"
    path.write_text("old")
    result.save(path)
    assert SweepResult.load(path).histories == result.histories


def test_loading_a_file_that_is_not_a_result_is_a_clear_error(tmp_path):
    for text in (
        "not json",
        '{"configs": []}',
        json.dumps({"format": "netfleet.sweep", "version": 99}),
    ):
        path = tmp_path / "bad.json"
        path.write_text(text)
        with pytest.raises(InvalidArgumentError, match="bad.json"):
            SweepResult.load(path)


# -- plot -----------------------------------------------------------------------------------------
def test_plot_draws_the_notebooks_two_panels(result):
    figure = result.plot()
    top, bottom = figure.axes
    assert top.get_title() == "Loss"
    assert bottom.get_title() == "Accuracy"
    assert bottom.get_xlabel() == "Epochs"
    assert len(top.get_lines()) == 3
    np.testing.assert_allclose(top.get_lines()[1].get_ydata(), [0.5, 0.2, 0.1])
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["0.01", "0.1", "0.5"]
    matplotlib.pyplot.close(figure)


def test_plot_draws_into_given_axes(result):
    figure, axes = matplotlib.pyplot.subplots(1, 2)
    assert result.plot(metrics=("accuracy", "loss"), ax=axes) is figure
    assert axes[0].get_title() == "Accuracy"
    figure_one, axis = matplotlib.pyplot.subplots()
    assert result.plot(metrics="loss", ax=axis) is figure_one
    with pytest.raises(InvalidArgumentError, match="one per metric"):
        result.plot(ax=axis)
    with pytest.raises(InvalidArgumentError, match="'val_loss'"):
        result.plot(metrics=("val_loss",))
    matplotlib.pyplot.close("all")


def test_importing_the_fleet_package_does_not_import_matplotlib():
    code = "import sys, netfleet.fleet; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_repr_names_configurations_runs_and_metrics(result):
    assert repr(result) == "<SweepResult configs=3 runs=1 metrics=['loss', 'accuracy']>"
