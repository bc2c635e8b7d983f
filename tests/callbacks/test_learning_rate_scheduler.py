"""LearningRateScheduler: Keras' callback (against Keras 3 itself where installed), called
with each member's own rate in a fleet, in `fit`, and its errors."""

import os
import types

import numpy as np
import pytest
import torch

from netfleet.callbacks import LearningRateScheduler
from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.optimizers import SGD
from netfleet.optimizers.schedules import ExponentialDecay

from .fakes import FakeModel


def halve_after_two(epoch, lr):
    return lr if epoch < 2 else lr * 0.5


def model_with_rates(learning_rates):
    model = FakeModel(len(learning_rates))
    model.optimizer = SGD(learning_rate=list(learning_rates))
    model.optimizer.build(torch.zeros(len(learning_rates), 1))
    return model


def run(callback, model, epochs):
    """The learning rates (epochs, M) each epoch trains with, and the epochs' logs."""
    callback.set_model(model)
    callback.on_train_begin()
    rates, logs = [], []
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch)
        rates.append(model.optimizer.learning_rate.numpy())
        logs.append({"loss": 1.0})
        callback.on_epoch_end(epoch, logs[-1])
    return np.array(rates).reshape(epochs, -1), logs


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_one_model_follows_keras_itself():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keras = pytest.importorskip("keras")
    theirs = types.SimpleNamespace(optimizer=keras.optimizers.SGD(0.1))
    callback = keras.callbacks.LearningRateScheduler(halve_after_two)
    callback.set_model(theirs)
    expected = []
    for epoch in range(6):
        callback.on_epoch_begin(epoch)
        expected.append(float(theirs.optimizer.learning_rate))
    rates, _ = run(LearningRateScheduler(halve_after_two), model_with_rates([0.1]), 6)
    np.testing.assert_allclose(rates[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(rates[:, 0], [0.1, 0.1, 0.05, 0.025, 0.0125, 0.00625])


def test_each_member_is_scheduled_from_its_own_rate():
    rates, logs = run(LearningRateScheduler(halve_after_two), model_with_rates([0.1, 0.4]), 4)
    np.testing.assert_allclose(rates, [[0.1, 0.4], [0.1, 0.4], [0.05, 0.2], [0.025, 0.1]])
    np.testing.assert_allclose(logs[-1]["learning_rate"], [0.025, 0.1])


def test_a_schedule_of_the_epoch_alone_is_keras_older_form():
    rates, logs = run(
        LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)), model_with_rates([1.0]), 3
    )
    np.testing.assert_allclose(rates[:, 0], [0.1, 0.05, 0.1 / 3])
    assert logs[0]["learning_rate"] == pytest.approx(0.1)


def test_a_frozen_member_keeps_its_rate():
    model = model_with_rates([0.1, 0.1])
    model.stop_members([0])
    rates, logs = run(LearningRateScheduler(lambda epoch, lr: lr * 0.5), model, 2)
    np.testing.assert_allclose(rates, [[0.1, 0.05], [0.1, 0.025]])
    assert np.isnan(logs[0]["learning_rate"][0])


def test_numpy_and_tensor_results_count_as_floats_and_others_are_refused():
    run(LearningRateScheduler(lambda epoch, lr: np.float32(lr)), model_with_rates([0.1]), 1)
    run(LearningRateScheduler(lambda epoch, lr: torch.tensor(lr)), model_with_rates([0.1]), 1)
    with pytest.raises(InvalidArgumentError, match="should be a float. Got: 'fast'"):
        run(LearningRateScheduler(lambda epoch, lr: "fast"), model_with_rates([0.1]), 1)
    with pytest.raises(InvalidTypeError, match="'schedule' argument of LearningRateScheduler"):
        LearningRateScheduler(0.1)


def test_an_optimizer_with_a_schedule_cannot_be_rescheduled():
    model = FakeModel()
    model.optimizer = SGD(learning_rate=ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(InvalidTypeError, match="LearningRateSchedule"):
        run(LearningRateScheduler(halve_after_two), model, 1)


def test_verbose_announces_each_members_rate(capsys):
    run(LearningRateScheduler(halve_after_two, verbose=1), model_with_rates([0.1, 0.2]), 1)
    printed = capsys.readouterr().out
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.1. (member 0)" in printed
    assert "to 0.2. (member 1)" in printed


def test_in_fit_it_trains_as_setting_each_epochs_rate_by_hand(wines_data, wines_model):
    x, y = wines_data
    scheduled = wines_model(SGD(learning_rate=[0.2, 0.05]), seed=1)
    history = scheduled.fit(
        x, y, epochs=4, verbose=0, callbacks=[LearningRateScheduler(halve_after_two)]
    )
    by_hand = wines_model(SGD(learning_rate=[0.2, 0.05]), seed=1)
    losses = []
    for epoch in range(4):
        rates = by_hand.optimizer.learning_rate.numpy()
        by_hand.optimizer.learning_rate = [halve_after_two(epoch, rate) for rate in rates]
        step = by_hand.fit(x, y, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        losses.append(step.history["loss"][0])
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-6)
    np.testing.assert_allclose(scheduled.optimizer.learning_rate.numpy(), [0.05, 0.0125])
