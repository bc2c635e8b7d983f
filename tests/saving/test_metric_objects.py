"""Metric objects in compile, as Keras code passes them (`metrics=[AUC()]`): saved in model
files as `{"class_name", "config"}` entries of netfleet's metric classes and rebuilt on load,
and counted as the same metric when fleets are grouped."""

import numpy as np
import pytest

from netfleet import metrics
from netfleet.errors import InvalidArgumentError
from netfleet.fleet.grouping import group_indices
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.saving import load_model, save_model
from netfleet.utils import set_random_seed


def _classifier(metric_list, units=1):
    set_random_seed(0)
    activation = "sigmoid" if units == 1 else "softmax"
    model = Sequential([Dense(units, activation=activation, input_shape=(3,))])
    loss = "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
    model.compile("adam", loss, metrics=metric_list)
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.random((40, 3), dtype=np.float32)
    return x, (x[:, 0] > 0.5).astype(np.float32)


def test_metric_objects_survive_a_save_and_load(data, tmp_path):
    x, y = data
    chosen = [
        metrics.AUC(num_thresholds=50),
        metrics.Precision(thresholds=0.3, name="precision_at_30"),
        metrics.Recall(),
        "accuracy",
        metrics.binary_accuracy,
        metrics.MeanSquaredError,
    ]
    model = _classifier(chosen)
    model.fit(x, y, epochs=1, verbose=0)
    save_model(model, tmp_path / "m.netfleet")
    loaded = load_model(tmp_path / "m.netfleet")
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == expected
    assert list(expected) == [
        "loss",
        "auc",
        "precision_at_30",
        "recall",
        "accuracy",
        "binary_accuracy",
        "mean_squared_error",
    ]
    auc, precision = loaded.compiled.metric_ids[:2]
    assert auc.get_config() == {"num_thresholds": 50, "name": "auc"}
    assert precision.get_config() == chosen[1].get_config()


def test_top_k_settings_survive_a_save_and_load(tmp_path):
    model = _classifier([metrics.SparseTopKCategoricalAccuracy(k=2)], units=4)
    save_model(model, tmp_path / "m.netfleet")
    (metric,) = load_model(tmp_path / "m.netfleet").compiled.metric_ids
    assert isinstance(metric, metrics.SparseTopKCategoricalAccuracy) and metric.k == 2


def test_a_custom_metric_is_refused_before_anything_is_written(tmp_path):
    def hits(y_true, y_pred):
        return (y_true == (y_pred > 0.5)).float()

    model = _classifier([hits])
    with pytest.raises(InvalidArgumentError, match="Cannot save the custom metric 'hits'"):
        save_model(model, tmp_path / "m.netfleet")
    assert not (tmp_path / "m.netfleet").exists()


def test_models_compiled_with_equal_metric_objects_train_in_one_fleet():
    models = [_classifier([metrics.AUC(), "accuracy"]) for _ in range(3)]
    assert group_indices(models, [{"batch_size": 8}] * 3) == [[0, 1, 2]]
    other = _classifier([metrics.AUC(num_thresholds=20), "accuracy"])
    assert group_indices([*models, other], [{"batch_size": 8}] * 4) == [[0, 1, 2], [3]]
