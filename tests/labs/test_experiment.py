"""Experiment files: checked whole before training (errors name the key and line), run as a
sweep, written as a report."""

import io
import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from netfleet.labs import ExperimentError, Progress, load_experiment, run_experiment

GOOD = """
title = "Banknotes: learning rates"
[data]
name = "banknotes"
[model]
layers = [{type = "Dense", units = 4, activation = "relu"},
          {type = "Dense", units = 1, activation = "sigmoid"}]
[compile]
optimizer = "sgd"
[fit]
epochs = 2
batch_size = 16
[sweep]
learning_rate = [0.01, 0.5]
"""


def _file(tmp_path, text, name="experiment.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _problems(tmp_path, text, overrides=()):
    with pytest.raises(ExperimentError) as error:
        load_experiment(_file(tmp_path, text), overrides)
    return str(error.value)


def test_every_problem_is_named_with_its_key_line_and_expectation(tmp_path):
    message = _problems(
        tmp_path,
        """
        [data]
        name = "banknote"
        [model]
        layers = [{type = "Dens", units = 8}]
        [fit]
        epochs = "ten"
        batch = 3
        """,
    )
    assert "nothing was trained" in message
    assert "[data] name (line 3): expected one of banknotes, wines, got 'banknote'" in message
    assert "[model] layers[0].type (line 5): expected one of" in message
    assert "[fit] epochs (line 7): expected an integer >= 1, got 'ten'" in message
    assert "[fit] batch (line 8): expected one of batch_size" in message


def test_invalid_toml_reports_tomllibs_line(tmp_path):
    message = _problems(tmp_path, "[data]\nname = \n")
    assert "not valid TOML" in message and "line 2" in message


def test_layer_arguments_are_checked_before_training(tmp_path):
    message = _problems(tmp_path, GOOD.replace("units = 4", "units = -4"))
    assert "[model] layers[0]" in message and "Dense" in message


def test_a_csv_needs_its_target_and_data_needs_one_source(tmp_path):
    message = _problems(tmp_path, '[data]\ncsv = "x.csv"\n[model]\nbuild = "m.py:f"\n')
    assert "[data] target" in message
    assert "either name" in _problems(tmp_path, '[model]\nbuild = "m.py:f"\n')


def test_overrides_replace_values_and_are_checked(tmp_path):
    path = _file(tmp_path, GOOD)
    experiment = load_experiment(
        path, ["fit.epochs=3", "sweep.learning_rate=[0.1]", "data.name=wines"]
    )
    assert experiment["fit"]["epochs"] == 3
    assert experiment["sweep"] == {"learning_rate": [0.1]}
    assert experiment["data"]["name"] == "wines"
    message = _problems(tmp_path, GOOD, ["fit.epochs=0"])
    assert "[fit] epochs (from --set): expected an integer >= 1, got 0" in message
    with pytest.raises(ExperimentError, match="dotted.key=value"):
        load_experiment(path, ["epochs"])


def test_an_experiment_runs_as_one_fleet_and_writes_its_report(tmp_path):
    path = _file(tmp_path, GOOD)
    folder = run_experiment(path, out=tmp_path / "report", progress=Progress(io.StringIO()))
    results = json.loads((folder / "results.json").read_text())
    assert results["numbers"]["data"]["runs"] == 1
    assert len(results["tables"]["final"]["data"]) == 2
    assert len(results["tables"]["test_scores"]["data"]) == 2
    assert results["config"]["sweep"] == {"learning_rate": [0.01, 0.5]}


def test_a_csv_and_a_build_function_from_a_local_file(tmp_path):
    from netfleet.datasets import wines

    wines.load_frame().to_csv(tmp_path / "wines.csv", index=False)
    (tmp_path / "model.py").write_text(
        "from netfleet.layers import Dense\n"
        "from netfleet.models import Sequential\n"
        "def make_model(hidden=8):\n"
        "    return Sequential([Dense(hidden, activation='relu'), Dense(3, activation='softmax')])\n"
    )
    path = _file(
        tmp_path,
        """
        [data]
        csv = "wines.csv"
        target = "Class"
        [model]
        build = "model.py:make_model"
        [compile]
        optimizer = "adam"
        [fit]
        epochs = 2
        [sweep]
        hidden = [4, 8]
        """,
    )
    folder = run_experiment(path, out=tmp_path / "report", progress=Progress(io.StringIO()))
    results = json.loads((folder / "results.json").read_text())
    assert results["numbers"]["data"]["classes"] == ["1", "2", "3"]
    assert len(results["tables"]["test_scores"]["data"]) == 2


def test_a_model_that_does_not_fit_the_target_fails_before_training(tmp_path):
    path = _file(tmp_path, GOOD.replace('units = 1, activation = "sigmoid"', "units = 3"))
    with pytest.raises(ExperimentError, match="3 units, but the target has 2 classes"):
        run_experiment(path, out=tmp_path / "report", progress=Progress(io.StringIO()))
    assert not (tmp_path / "report").exists()


def test_a_named_layers_option_is_swept_and_checked_before_training(tmp_path):
    text = GOOD.replace(
        '{type = "Dense", units = 4, activation = "relu"}',
        '{type = "Dense", name = "hidden", units = 4, activation = "relu"}',
    ).replace("learning_rate = [0.01, 0.5]", "hidden__units = [2, 6]")
    path = _file(tmp_path, text)
    folder = run_experiment(path, out=tmp_path / "report", progress=Progress(io.StringIO()))
    results = json.loads((folder / "results.json").read_text())
    final = results["tables"]["final"]
    assert final["columns"][0] == "hidden__units"
    assert [row[0] for row in final["data"]] == [2, 6]
    assert results["numbers"]["data"]["runs"] == 2  # different shapes: one run each
    message = _problems(tmp_path, text.replace("hidden__units = [2, 6]", "hiden__units = [2]"))
    assert "[sweep] hiden__units (line 14): expected <layer name>__<option>" in message
    message = _problems(tmp_path, text.replace("hidden__units = [2, 6]", "hidden__units = [0]"))
    assert "[sweep] hidden__units (line 14): expected a valid Dense" in message


def test_a_regression_on_a_csv_reports_r2_and_mae_in_the_targets_units(tmp_path):
    from sklearn import metrics

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["price"] = 100 + 20 * X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=300)
    frame.to_csv(tmp_path / "prices.csv", index=False)
    path = _file(
        tmp_path,
        """
        [data]
        csv = "prices.csv"
        target = "price"
        task = "regression"
        [model]
        layers = [{type = "Dense", units = 1}]
        [compile]
        optimizer = "adam"
        [fit]
        epochs = 40
        batch_size = 16
        [sweep]
        learning_rate = [0.05]
        """,
    )
    experiment = load_experiment(path)
    assert experiment["compile"]["metrics"] == ["mae"]
    assert experiment["preprocessing"]["scale_target"] == "standard"
    folder = run_experiment(path, out=tmp_path / "report", progress=Progress(io.StringIO()))
    results = json.loads((folder / "results.json").read_text())
    assert "classes" not in results["numbers"]["data"]
    assert {"loss", "mae", "val_loss", "val_mae"} <= set(results["tables"]["final"]["columns"])
    scores = results["tables"]["test_scores"]
    assert scores["columns"] == ["r2", "mae", "mse", "rmse"]
    r2, mae, mse, rmse = scores["data"][0]
    assert r2 > 0.95  # a linear target, learned by a linear model
    assert rmse == pytest.approx(np.sqrt(mse))
    baseline = metrics.mean_absolute_error(frame["price"], np.full(300, frame["price"].mean()))
    assert mae < baseline / 4  # in the price's own units, far better than the mean


def test_regression_settings_are_checked(tmp_path):
    message = _problems(tmp_path, GOOD + '[preprocessing]\nscale_target = "standard"\n')
    assert "[preprocessing] scale_target (line 16): expected 'none' for a classification" in message
    assert "[data] task (line 5): expected one of classification, regression" in _problems(
        tmp_path, GOOD.replace('name = "banknotes"', 'name = "banknotes"\ntask = "regress"')
    )
    regression = GOOD.replace(
        'name = "banknotes"', 'name = "wines"\ntarget = "Alcohol"\ntask = "regression"'
    )
    path = _file(tmp_path, regression.replace('units = 1, activation = "sigmoid"', "units = 3"))
    with pytest.raises(ExperimentError, match="3 units, but a regression predicts one number"):
        run_experiment(path, out=tmp_path / "report", progress=Progress(io.StringIO()))
    assert not (tmp_path / "report").exists()
