"""ReduceLROnPlateau: Keras' rule (against Keras 3 itself where installed), member by member
in a fleet, frozen members left alone, the logged learning rate, and in `fit`."""

import os
import types

import numpy as np
import pytest
import torch

from netfleet.callbacks import EarlyStopping, ReduceLROnPlateau
from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.optimizers import SGD, Adam
from netfleet.optimizers.schedules import ExponentialDecay

from .fakes import FakeModel

LOSSES = [1.0, 0.9, 0.95, 0.92, 0.91, 0.89, 0.8895, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8, 0.9]
SETTINGS = [
    {"factor": 0.5, "patience": 2},
    {"factor": 0.1, "patience": 0, "min_delta": 0.05},
    {"factor": 0.5, "patience": 1, "cooldown": 2},
    {"factor": 0.2, "patience": 1, "min_lr": 0.003},
    {"factor": 0.5, "patience": 3, "min_delta": 0.0, "cooldown": 1},
]


class ModelWithOptimizer(FakeModel):
    """The fake model with a built optimizer, one learning rate per member."""

    def __init__(self, learning_rates):
        super().__init__(len(learning_rates))
        self.optimizer = SGD(learning_rate=list(learning_rates))
        self.optimizer.build(torch.zeros(len(learning_rates), 1))


def run(callback, model, values):
    """The learning rates (epochs, M) after each epoch whose loss logs are `values`, and the
    logs the callback saw."""
    callback.set_model(model)
    callback.on_train_begin()
    rates, seen = [], []
    for epoch, value in enumerate(values):
        value = np.where(model._active, value, np.nan) if np.ndim(value) else float(value)
        logs = {"loss": value}
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, logs)
        rates.append(model.optimizer.learning_rate.numpy())
        seen.append(logs)
    return np.array(rates).reshape(len(values), -1), seen


def keras_rates(settings, values, learning_rate=0.1):
    """The learning rates Keras 3's own ReduceLROnPlateau leaves after each epoch."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keras = pytest.importorskip("keras")
    model = types.SimpleNamespace(optimizer=keras.optimizers.SGD(learning_rate))
    callback = keras.callbacks.ReduceLROnPlateau(monitor="loss", mode="min", **settings)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {"loss": value})
        rates.append(float(model.optimizer.learning_rate))
    return np.array(rates)


def reference_rates(settings, values, learning_rate=0.1):
    """Keras 3's rule written out (reduce_lr_on_plateau.py)."""
    factor, patience = settings["factor"], settings["patience"]
    min_delta, cooldown = settings.get("min_delta", 1e-4), settings.get("cooldown", 0)
    min_lr = settings.get("min_lr", 0.0)
    best, wait, cooling, rates = None, 0, 0, []
    for value in values:
        if cooling > 0:
            cooling -= 1
            wait = 0
        if best is None or value + min_delta < best:
            best, wait = value, 0
        elif cooling == 0:
            wait += 1
            if wait >= patience and learning_rate > np.float32(min_lr):
                learning_rate = max(learning_rate * factor, min_lr)
                cooling, wait = cooldown, 0
        rates.append(learning_rate)
    return np.array(rates)


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_one_model_follows_keras_rule(settings):
    rates, _ = run(ReduceLROnPlateau(monitor="loss", **settings), ModelWithOptimizer([0.1]), LOSSES)
    np.testing.assert_allclose(rates[:, 0], reference_rates(settings, LOSSES), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_one_model_follows_keras_itself(settings):
    rates, _ = run(ReduceLROnPlateau(monitor="loss", **settings), ModelWithOptimizer([0.1]), LOSSES)
    np.testing.assert_allclose(rates[:, 0], keras_rates(settings, LOSSES), rtol=1e-6)


def test_each_member_of_a_fleet_is_reduced_on_its_own_plateau():
    settings = {"factor": 0.5, "patience": 1, "cooldown": 1}
    rng = np.random.default_rng(0)
    losses = np.stack([LOSSES, LOSSES[::-1], rng.random(len(LOSSES))], axis=1)
    rates, _ = run(
        ReduceLROnPlateau(monitor="loss", **settings), ModelWithOptimizer([0.1, 0.2, 0.3]), losses
    )
    for member, start in enumerate([0.1, 0.2, 0.3]):
        expected = reference_rates(settings, losses[:, member], start)
        np.testing.assert_allclose(rates[:, member], expected, rtol=1e-12)


def test_a_frozen_member_keeps_its_rate_and_logs_nan():
    model = ModelWithOptimizer([0.1, 0.1])
    callback = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0)
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, {"loss": np.array([1.0, 1.0])})
    model.stop_members([1])
    callback.on_epoch_begin(1)
    logs = {"loss": np.array([2.0, np.nan])}
    callback.on_epoch_end(1, logs)
    assert model.optimizer.learning_rate == [0.05, 0.1]
    np.testing.assert_array_equal(logs["learning_rate"], [0.1, np.nan])


def test_the_learning_rate_each_member_trained_with_is_logged():
    _, logs = run(
        ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0),
        ModelWithOptimizer([0.1]),
        [1.0, 2.0, 3.0],
    )
    assert [entry["learning_rate"] for entry in logs] == [0.1, 0.1, 0.05]


def test_a_reduction_is_announced_with_verbose(capsys):
    run(
        ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, verbose=1),
        ModelWithOptimizer([0.1, 0.2]),
        [[1.0, 1.0], [2.0, 0.5]],
    )
    printed = capsys.readouterr().out
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05. (member 0)" in printed
    assert "member 1" not in printed


def test_a_schedule_is_not_reduced_as_keras_refuses_it():
    model = FakeModel()
    model.optimizer = SGD(learning_rate=ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(InvalidTypeError, match="LearningRateSchedule"):
        run(ReduceLROnPlateau(monitor="loss", patience=0), model, [1.0, 2.0])


def test_bad_arguments_are_refused():
    with pytest.raises(InvalidArgumentError, match="'factor' argument of ReduceLROnPlateau"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(InvalidArgumentError, match="'min_lr' argument of ReduceLROnPlateau"):
        ReduceLROnPlateau(min_lr=-1)


def test_in_fit_each_member_follows_the_rule_on_its_own_validation_loss(wines_split, wines_model):
    x_train, y_train, x_test, y_test = wines_split
    settings = {"factor": 0.5, "patience": 1, "min_delta": 0.01}
    model = wines_model(SGD(learning_rate=[0.5, 0.05, 0.005]))
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_test, y_test),
        epochs=8,
        verbose=0,
        callbacks=[ReduceLROnPlateau(monitor="val_loss", **settings)],
    )
    val_loss = np.array(history.history["val_loss"])
    expected = [
        reference_rates(settings, val_loss[:, member], start)[-1]
        for member, start in enumerate([0.5, 0.05, 0.005])
    ]
    np.testing.assert_allclose(model.optimizer.learning_rate.numpy(), expected, rtol=1e-12)
    assert len(set(model.optimizer.learning_rate.numpy() / [0.5, 0.05, 0.005])) > 1


def test_reused_across_fits_it_starts_afresh(banknotes_data, banknotes_model):
    x, y = banknotes_data
    model = banknotes_model(Adam(learning_rate=0.01))
    callback = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0)
    stopper = EarlyStopping(monitor="loss", patience=100)
    for _ in range(2):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[callback, stopper])
    # Each fit: the first epoch sets the best, the next two each halve the rate.
    assert model.optimizer.learning_rate == pytest.approx(0.01 / 16)
