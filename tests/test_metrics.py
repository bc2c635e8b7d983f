"""Tests for netfleet.metrics: accuracy variants chosen as Keras chooses them, per-member
results of shape (M,), accumulation over batches, and AUC against scikit-learn."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from netfleet import losses, metrics
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.optimizers import SGD
from netfleet.utils import set_random_seed


def t(a, dtype=torch.float32):
    return torch.tensor(np.asarray(a), dtype=dtype)


# -- which accuracy "accuracy" means -----------------------------------------------------------
@pytest.mark.parametrize(
    "loss, units, kind",
    [
        ("binary_crossentropy", 1, "binary"),
        ("binary_crossentropy", 4, "binary"),  # multi-label: Keras picks binary for BCE
        ("categorical_crossentropy", 10, "categorical"),
        ("sparse_categorical_crossentropy", 10, "sparse"),
        ("mse", 1, "binary"),
        ("mse", 3, "categorical"),
    ],
)
def test_accuracy_variant_is_chosen_as_keras_does(loss, units, kind):
    assert metrics.accuracy_kind(losses.get(loss), units) == kind
    for name in ("accuracy", "acc"):
        metric = metrics.get(name, losses.get(loss), units)
        assert isinstance(metric, metrics.Accuracy)
        assert metric.kind == kind and metric.name == name


def test_explicit_accuracy_names_are_kept():
    bce = losses.get("binary_crossentropy")
    for kind in ("binary", "categorical", "sparse"):
        metric = metrics.get(
            f"{kind}_accuracy" if kind != "sparse" else "sparse_categorical_accuracy", bce, 1
        )
        assert metric.kind == kind


# -- the accuracy functions ------------------------------------------------------------------
def test_binary_accuracy_thresholds_at_one_half():
    y_true = t([[[1.0], [1.0], [0.0], [0.0]]])
    y_pred = t([[[0.98], [0.4], [0.0], [0.6]]])
    torch.testing.assert_close(metrics.binary_accuracy(y_true, y_pred), t([[1.0, 0.0, 1.0, 0.0]]))


def test_categorical_and_sparse_accuracy_compare_argmaxes():
    y_pred = t([[[0.1, 0.9, 0.0], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5]]])
    labels = t([[1, 1, 2]])
    torch.testing.assert_close(
        metrics.categorical_accuracy(t(np.eye(3)[[1, 1, 2]])[None], y_pred), t([[1.0, 0.0, 1.0]])
    )
    torch.testing.assert_close(
        metrics.sparse_categorical_accuracy(labels, y_pred), t([[1.0, 0.0, 1.0]])
    )


# -- accumulation, members -------------------------------------------------------------------
def _predictions(members, n=90, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    y_pred = rng.dirichlet(np.ones(classes), size=(members, n))
    labels = rng.integers(0, classes, size=n)
    return t(labels), t(np.eye(classes)[labels]), t(y_pred)


@pytest.mark.parametrize(
    "make", [lambda: metrics.Accuracy(kind="categorical"), metrics.MeanSquaredError, metrics.AUC]
)
def test_accumulating_batches_equals_one_shot(make, members):
    _, y_true, y_pred = _predictions(members)
    if isinstance(make(), metrics.AUC):
        y_pred = y_pred[..., :1]
        y_true = y_true[..., :1]
    one_shot, batched = make(), make()
    one_shot.reset(members)
    one_shot.update(y_true[None], y_pred)
    batched.reset(members)
    for start in range(0, 90, 32):
        batched.update(y_true[None, start : start + 32], y_pred[:, start : start + 32])
    assert batched.result().shape == (members,)
    torch.testing.assert_close(batched.result(), one_shot.result())


def test_per_member_accuracy_equals_numpy_for_each_member(members):
    labels, _, y_pred = _predictions(members)
    metric = metrics.Accuracy(kind="sparse")
    metric.reset(members)
    metric.update(labels[None], y_pred)
    expected = (y_pred.numpy().argmax(-1) == labels.numpy()).mean(1)
    assert metric.result().shape == (members,)
    np.testing.assert_allclose(metric.result().numpy(), expected, rtol=1e-6)


def test_weighted_mean_metric_divides_by_the_sum_of_weights():
    labels, _, y_pred = _predictions(1, n=6)
    weights = t([[0.0, 1.0, 2.0, 0.5, 0.0, 3.0]])
    metric = metrics.Accuracy(kind="sparse")
    metric.reset(1)
    metric.update(labels[None], y_pred, weights)
    correct = (y_pred.numpy()[0].argmax(-1) == labels.numpy()).astype(float)
    expected = (correct * weights.numpy()[0]).sum() / weights.numpy().sum()
    np.testing.assert_allclose(metric.result().numpy(), [expected], rtol=1e-6)


def test_regression_metrics_have_direction_min():
    assert metrics.MeanSquaredError().direction == "min"
    assert metrics.MeanAbsoluteError().direction == "min"
    assert metrics.Accuracy().direction == "max"
    assert metrics.AUC().direction == "max"


# -- AUC ---------------------------------------------------------------------------------------
def test_auc_equals_sklearn_roc_auc_score_on_synthetic_scores(members):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=400)
    scores = np.clip(y * 0.3 + rng.random((members, 400)) * 0.7, 0, 1)
    auc = metrics.AUC()
    auc.reset(members)
    auc.update(t(y)[None, :, None], t(scores)[..., None])
    expected = [roc_auc_score(y, scores[m]) for m in range(members)]
    np.testing.assert_allclose(auc.result().numpy(), expected, atol=1e-3)


def test_auc_equals_sklearn_on_a_trained_models_predictions(banknotes_split):
    X_train, X_test, y_train, y_test = banknotes_split
    set_random_seed(0)
    model = Sequential([Dense(1, input_shape=(4,), activation="sigmoid")])
    model.compile(SGD(learning_rate=[0.001, 0.01, 0.1]), "binary_crossentropy", ["auc"])
    model.fit(X_train, y_train, epochs=2, verbose=0)
    _, auc = model.evaluate(X_test, y_test, verbose=0)
    predictions = model.predict(X_test, verbose=0)
    assert auc.shape == (3,)
    expected = [roc_auc_score(y_test, predictions[m, :, 0]) for m in range(3)]
    np.testing.assert_allclose(auc, expected, atol=1e-3)


def test_auc_rejects_fewer_than_two_thresholds():
    with pytest.raises(ValueError, match="'num_thresholds' argument of AUC"):
        metrics.AUC(num_thresholds=1)


# -- get ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, cls",
    [
        ("mse", metrics.MeanSquaredError),
        ("mean_squared_error", metrics.MeanSquaredError),
        ("mae", metrics.MeanAbsoluteError),
        ("auc", metrics.AUC),
        ("AUC", metrics.AUC),
    ],
)
def test_get_by_name(name, cls):
    assert isinstance(metrics.get(name, losses.get("mse"), 1), cls)


def test_get_accepts_instances_classes_and_callables():
    loss = losses.get("mse")
    auc = metrics.AUC()
    assert metrics.get(auc, loss, 1) is auc
    assert isinstance(metrics.get(metrics.AUC, loss, 1), metrics.AUC)

    def max_error(y_true, y_pred):
        return (y_pred - y_true).abs().amax(-1)

    custom = metrics.get(max_error, loss, 1)
    assert isinstance(custom, metrics.MeanMetric) and custom.name == "max_error"


def test_unknown_metric_raises_with_did_you_mean():
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'. Did you mean 'accuracy'"):
        metrics.get("acuracy", losses.get("mse"), 1)
    with pytest.raises(TypeError, match="A metric must be"):
        metrics.get(3, losses.get("mse"), 1)
