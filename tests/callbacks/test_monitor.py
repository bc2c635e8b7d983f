"""MonitorCallback: direction of the monitored quantity, per-member improvements, resets,
and MemberWeights (copies of members' rows of the flat weight buffer)."""

import numpy as np
import pytest
import torch

from netfleet.callbacks.monitor import MemberWeights, MonitorCallback
from netfleet.errors import InvalidArgumentError
from netfleet.metrics import MeanMetric
from netfleet.optimizers import SGD

from .fakes import FakeModel


def monitor_for(model, **kwargs):
    callback = MonitorCallback(**kwargs)
    callback.set_model(model)
    callback.on_train_begin()
    return callback


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("loss", "min"),
        ("val_loss", "min"),
        ("accuracy", "max"),
        ("val_acc", "max"),
        ("val_auc", "max"),
        ("mean_squared_error", "min"),
    ],
)
def test_auto_mode_infers_direction_from_the_name_like_keras(name, direction):
    assert monitor_for(FakeModel(), monitor=name).direction == direction


def test_explicit_mode_wins_over_the_name():
    assert monitor_for(FakeModel(), monitor="val_accuracy", mode="min").direction == "min"
    assert monitor_for(FakeModel(), monitor="loss", mode="max").direction == "max"


def test_auto_mode_reads_the_direction_a_compiled_metric_declares(wines_model):
    score = MeanMetric(lambda y_true, y_pred: y_pred.sum(-1), "score", direction="max")
    model = wines_model(metrics=[score])
    assert monitor_for(model, monitor="val_score").direction == "max"
    assert monitor_for(FakeModel(), monitor="val_score").direction == "min"


def test_auto_mode_reads_the_direction_of_weighted_metrics(wines_model):
    score = MeanMetric(lambda y_true, y_pred: y_pred.sum(-1), "score", direction="max")
    model = wines_model()
    model.compile("adam", "categorical_crossentropy", weighted_metrics=[score])
    assert monitor_for(model, monitor="val_score").direction == "max"
    model.compile("adam", "categorical_crossentropy", metrics=[score], weighted_metrics=[score])
    assert monitor_for(model, monitor="val_weighted_score").direction == "max"


def test_unknown_mode_is_rejected_with_the_standard_sentence():
    with pytest.raises(InvalidArgumentError, match="'mode' argument of MonitorCallback"):
        MonitorCallback(mode="up")


def test_improvements_are_per_member_and_respect_min_delta():
    callback = monitor_for(FakeModel(3), monitor="loss", min_delta=0.1)
    first = callback._improved(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(first, [True, True, True])
    second = callback._improved(np.array([0.95, 0.8, 1.2]))
    np.testing.assert_array_equal(second, [False, True, False])
    np.testing.assert_allclose(callback.best, [1.0, 0.8, 1.0])


def test_max_mode_improves_upwards():
    callback = monitor_for(FakeModel(2), monitor="accuracy")
    callback._improved(np.array([0.5, 0.5]))
    np.testing.assert_array_equal(callback._improved(np.array([0.6, 0.4])), [True, False])


def test_nan_never_improves_and_stopped_members_are_not_watched():
    model = FakeModel(3)
    callback = monitor_for(model, monitor="loss")
    callback._improved(np.array([1.0, 1.0, 1.0]))
    model.stop_members([2])
    improved = callback._improved(np.array([np.nan, 0.5, 0.1]))
    np.testing.assert_array_equal(improved, [False, True, False])
    np.testing.assert_allclose(callback.best, [1.0, 0.5, 1.0])


def test_a_nan_first_value_leaves_the_member_without_a_best():
    callback = monitor_for(FakeModel(1), monitor="loss")
    assert not callback._improved(np.array([np.nan]))[0]
    assert callback._improved(np.array([3.0]))[0]


def test_initial_best_must_be_beaten():
    callback = monitor_for(FakeModel(1), monitor="loss", initial_best=0.5)
    assert not callback._improved(np.array([0.6]))[0]
    assert callback._improved(np.array([0.4]))[0]


def test_state_is_reset_on_train_begin():
    callback = monitor_for(FakeModel(2), monitor="loss")
    callback._improved(np.array([0.1, 0.2]))
    callback.on_train_begin()
    assert np.isnan(callback.best).all()


def test_missing_monitor_warns_and_returns_none():
    callback = monitor_for(FakeModel(), monitor="val_loss")
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs. Available: loss"):
        assert callback.get_monitor_value({"loss": 0.3}) is None


def test_member_weights_keep_restore_and_swap_rows(wines_model):
    model = wines_model(SGD(learning_rate=[0.1, 0.2, 0.3]))
    data = model.parameter_store().data
    with torch.no_grad():
        data.copy_(torch.arange(3.0).view(3, 1).expand_as(data))
    kept = MemberWeights()
    kept.keep(model, np.array([True, False, True]))  # first call copies every row
    with torch.no_grad():
        data.add_(10)
    kept.keep(model, [1])
    np.testing.assert_allclose(kept.rows[:, 0], [0, 11, 2])
    with kept.swapped_in(model):
        np.testing.assert_allclose(model.get_weights()[0][:, 0, 0], [0, 11, 2])
    np.testing.assert_allclose(data[:, 0], [10, 11, 12])
    kept.restore(model, [0])
    np.testing.assert_allclose(data[:, 0], [0, 11, 12])
