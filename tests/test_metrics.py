"""Tests for netfleet.metrics: accuracy variants chosen as Keras chooses them, per-member
results of shape (M,), accumulation over batches, AUC, root mean squared error, precision,
recall and top-k accuracies against scikit-learn (and Keras 3 itself where installed)."""

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    mean_squared_error,
    precision_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
    top_k_accuracy_score,
)

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


# -- RootMeanSquaredError, Precision, Recall, top-k accuracies ---------------------------------
def _accumulated(metric, y_true, y_pred, weights=None, batch=32):
    """`metric`'s result over batches of (members, n, ...) predictions."""
    metric.reset(y_pred.shape[0])
    for start in range(0, y_pred.shape[1], batch):
        rows = slice(start, start + batch)
        metric.update(
            y_true[:, rows], y_pred[:, rows], None if weights is None else weights[:, rows]
        )
    return metric.result().numpy()


def _scores(members, n=100, classes=1, seed=3):
    """Labels (n,) (0/1 for one class), sigmoid or softmax scores (members, n, classes) and
    sample weights (n,)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(members, n, classes))
    if classes == 1:
        labels = (rng.random(n) < 0.4).astype(np.int64)
        scores = 1 / (1 + np.exp(-(logits + labels[None, :, None])))
    else:
        labels = rng.integers(0, classes, size=n)
        scores = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return labels, scores.astype(np.float32), rng.random(n).astype(np.float32)


def test_root_mean_squared_error_equals_sklearn_and_keras_per_member_with_weights(members, keras3):
    rng = np.random.default_rng(4)
    y = rng.normal(size=(100, 2)).astype(np.float32)
    y_pred = rng.normal(size=(members, 100, 2)).astype(np.float32)
    weights = rng.random(100).astype(np.float32)
    metric = metrics.RootMeanSquaredError()
    result = _accumulated(metric, t(y)[None], t(y_pred), t(weights)[None])
    # The root of the mean over examples (Keras' RMSE), not sklearn's mean of column RMSEs.
    expected = [
        np.sqrt(mean_squared_error(y, y_pred[m], sample_weight=weights)) for m in range(members)
    ]
    np.testing.assert_allclose(result, expected, rtol=1e-5)
    one_column = [root_mean_squared_error(y[:, 0], y_pred[m, :, 0]) for m in range(members)]
    np.testing.assert_allclose(
        _accumulated(metric, t(y[:, :1])[None], t(y_pred[..., :1])), one_column, rtol=1e-5
    )
    assert metric.direction == "min" and metric.name == "root_mean_squared_error"
    keras = keras3()
    for member in range(members):
        theirs = keras.metrics.RootMeanSquaredError()
        theirs.update_state(y, y_pred[member], sample_weight=weights)
        np.testing.assert_allclose(result[member], float(theirs.result()), rtol=1e-5)


@pytest.mark.parametrize("threshold", [None, 0.3, [0.7]])
@pytest.mark.parametrize(
    "cls, score", [(metrics.Precision, precision_score), (metrics.Recall, recall_score)]
)
def test_precision_and_recall_equal_sklearn_per_member(cls, score, threshold, members):
    labels, scores, weights = _scores(members)
    cut = 0.5 if threshold is None else np.ravel(threshold)[0]
    metric = cls(thresholds=threshold)
    result = _accumulated(metric, t(labels)[None, :, None], t(scores), t(weights)[None])
    expected = [score(labels, scores[m, :, 0] > cut, sample_weight=weights) for m in range(members)]
    np.testing.assert_allclose(result, expected, rtol=1e-5)
    assert metric.direction == "max"


@pytest.mark.parametrize(
    "cls, score", [(metrics.Precision, precision_score), (metrics.Recall, recall_score)]
)
def test_class_id_scores_one_column_of_one_hot_outputs_as_sklearn(cls, score):
    labels, scores, _ = _scores(2, classes=4)
    result = _accumulated(cls(class_id=2), t(np.eye(4)[labels])[None], t(scores))
    expected = [score(labels == 2, scores[m, :, 2] > 0.5) for m in range(2)]
    np.testing.assert_allclose(result, expected, rtol=1e-6)


def test_precision_is_zero_while_nothing_is_predicted_positive():
    metric = metrics.Precision()
    metric.reset(1)
    metric.update(t([[[1.0], [0.0]]]), t([[[0.2], [0.1]]]))
    assert metric.result().tolist() == [0.0]


KERAS_CONFUSION = [
    {},
    {"thresholds": 0.3},
    {"class_id": 1},
    {"top_k": 2},
    {"top_k": 1, "class_id": 2},
    {"thresholds": 0.2, "top_k": 2},
]


@pytest.mark.parametrize("settings", KERAS_CONFUSION, ids=str)
@pytest.mark.parametrize("name", ["Precision", "Recall"])
def test_precision_and_recall_equal_keras_itself(name, settings, keras3):
    keras = keras3()
    labels, scores, weights = _scores(2, classes=4)
    one_hot = np.eye(4, dtype=np.float32)[labels]
    ours = _accumulated(
        getattr(metrics, name)(**settings), t(one_hot)[None], t(scores), t(weights)[None]
    )
    for member in range(2):
        theirs = getattr(keras.metrics, name)(**settings)
        for start in range(0, len(labels), 32):
            rows = slice(start, start + 32)
            theirs.update_state(one_hot[rows], scores[member, rows], sample_weight=weights[rows])
        np.testing.assert_allclose(ours[member], float(theirs.result()), rtol=1e-5)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_accuracies_equal_keras_itself_and_sklearn(k, members, keras3):
    keras = keras3()
    labels, scores, weights = _scores(members, classes=6)
    one_hot = np.eye(6, dtype=np.float32)[labels]
    dense = _accumulated(
        metrics.TopKCategoricalAccuracy(k), t(one_hot)[None], t(scores), t(weights)[None]
    )
    sparse = _accumulated(
        metrics.SparseTopKCategoricalAccuracy(k), t(labels)[None], t(scores), t(weights)[None]
    )
    for member in range(members):
        expected = top_k_accuracy_score(
            labels, scores[member], k=k, sample_weight=weights, labels=range(6)
        )
        theirs = keras.metrics.TopKCategoricalAccuracy(k)
        theirs.update_state(one_hot, scores[member], sample_weight=weights)
        np.testing.assert_allclose([dense[member], sparse[member]], expected, rtol=1e-5)
        np.testing.assert_allclose(dense[member], float(theirs.result()), rtol=1e-5)


def test_top_k_counts_classes_tied_at_the_boundary_as_in():
    y_pred = t([[[0.4, 0.3, 0.3], [0.5, 0.25, 0.25]]])
    hits = metrics.sparse_top_k_categorical_accuracy(t([[2, 1]]), y_pred, k=2)
    torch.testing.assert_close(hits, t([[1.0, 1.0]]))


@pytest.mark.parametrize(
    "name, cls",
    [
        ("root_mean_squared_error", metrics.RootMeanSquaredError),
        ("precision", metrics.Precision),
        ("recall", metrics.Recall),
        ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
        ("sparse_top_k_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy),
        ("Precision", metrics.Precision),
    ],
)
def test_new_metrics_are_found_by_keras_names(name, cls):
    metric = metrics.get(name, losses.get("binary_crossentropy"), 1)
    assert type(metric) is cls
    assert metric.name == (name if name[0].islower() else "precision")


def test_a_fleet_logs_each_members_precision_recall_and_rmse_as_evaluate_reports_them():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(120, 3)).astype("float32")
    y = (x @ [1.0, -1.0, 0.5] > 0).astype("float32")
    set_random_seed(0)
    model = Sequential([Dense(1, input_shape=(3,), activation="sigmoid")])
    model.compile(
        SGD(learning_rate=[0.01, 0.5]),
        "binary_crossentropy",
        ["precision", "recall", "root_mean_squared_error"],
    )
    model.fit(x, y, epochs=2, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    predictions = model.predict(x, verbose=0)[..., 0]
    for member in range(2):
        predicted = predictions[member] > 0.5
        assert logs["precision"][member] == pytest.approx(precision_score(y, predicted), rel=1e-5)
        assert logs["recall"][member] == pytest.approx(recall_score(y, predicted), rel=1e-5)
        rmse = root_mean_squared_error(y, predictions[member])
        assert logs["root_mean_squared_error"][member] == pytest.approx(rmse, rel=1e-5)
