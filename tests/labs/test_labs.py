"""Each lab in quick mode, end to end: its report folder, and its numbers checked against
scikit-learn and the lecture's formulas computed independently here."""

import io
import json

import numpy as np
import pytest
from sklearn import metrics
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import cross_val_predict, cross_val_score
from sklearn.preprocessing import scale

from netfleet.labs import LABS, Progress, run_lab

pytestmark = pytest.mark.slow


def _run(name, folder):
    out = run_lab(name, quick=True, out=folder / name, progress=Progress(io.StringIO()))
    results = json.loads((out / "results.json").read_text())
    for section in results["sections"]:
        for block in section["blocks"]:
            if block["kind"] == "figure":
                assert (out / block["file"]).read_bytes().startswith(b"\x89PNG")
    return out, results


def test_the_catalog_lists_the_three_labs():
    assert list(LABS) == ["gates", "gradient-descent", "mnist"]


def test_gates(tmp_path):
    _, results = _run("gates", tmp_path)
    truth = results["tables"]["truth_and"]
    outputs = [row[-2] for row in truth["data"]]
    np.testing.assert_allclose(outputs, 1 / (1 + np.exp(-np.array([-30, -10, -10, 10]))), rtol=1e-4)
    assert [row[-1] for row in truth["data"]] == [0, 0, 0, 1]
    xnor = results["tables"]["truth_xnor"]
    assert [round(row[-2]) for row in xnor["data"]] == [1, 0, 0, 1]
    training = results["numbers"]["xnor_training"]
    assert training["members"] == 24 and training["runs"] == 1
    assert training["learned"] >= 1


def test_gradient_descent(tmp_path):
    from netfleet.datasets import banknotes

    _, results = _run("gradient-descent", tmp_path)
    frame = banknotes.load_frame()
    X, y = scale(frame.drop("class", axis=1).values), frame["class"].values
    expected = cross_val_score(RandomForestClassifier(n_estimators=30, random_state=0), X, y)
    np.testing.assert_allclose(results["numbers"]["baseline"]["cross_val_score"], expected)
    for key, size in [
        ("learning_rates", 4),
        ("batch_sizes", 4),
        ("optimizers", 6),
        ("initializers", 5),
    ]:
        assert len(results["tables"][f"{key}_final"]["data"]) == size
    text = " ".join(b.get("text", "") for s in results["sections"] for b in s["blocks"])
    assert "4 configurations trained as 1 batched run(s)" in text  # learning rates: one fleet
    assert "6 configurations trained as 1 batched run(s)" in text  # optimizers: one fleet
    assert len(results["numbers"]["representation_test_accuracy"]["per_epoch"]) == 9


def test_mnist(tmp_path, shared_data):
    from netfleet.datasets import mnist

    _, results = _run("mnist", tmp_path)
    config = results["config"]
    (X, y), _ = mnist.load_data()
    X = X[: config["train_rows"]].reshape(-1, 784).astype(np.float64)  # fetch_openml's dtype
    y_5 = y[: config["train_rows"]] == 5
    sgd = SGDClassifier(max_iter=1000, tol=1e-3, random_state=42)
    np.testing.assert_allclose(
        results["numbers"]["accuracy_cv"]["sgd"], cross_val_score(sgd, X, y_5, cv=3)
    )
    y_pred = cross_val_predict(sgd, X, y_5, cv=3)
    detector = results["numbers"]["sgd_5_detector"]
    assert detector["precision"] == pytest.approx(metrics.precision_score(y_5, y_pred))
    assert detector["recall"] == pytest.approx(metrics.recall_score(y_5, y_pred))
    assert detector["confusion_matrix"] == metrics.confusion_matrix(y_5, y_pred).tolist()
    never_5 = cross_val_score(DummyClassifier(strategy="most_frequent"), X, y_5, cv=3)
    np.testing.assert_allclose(results["numbers"]["accuracy_cv"]["never_5"], never_5)
    chosen = results["numbers"]["sgd_5_detector_precision_0.9"]
    assert chosen["precision"] >= 0.9
    pivot = results["tables"]["grid_pivot"]
    assert pivot["index_names"] == ["param_epochs", "param_hidden_size"]
    assert len(pivot["data"]) == 4
    assert results["numbers"]["mlp_test"]["accuracy"] > 0.75
