"""TerminateOnNaN: a single model stops after the bad batch; in a fleet only the members
whose loss is NaN or infinite stop."""

import numpy as np

from netfleet.callbacks import LambdaCallback, TerminateOnNaN
from netfleet.datasets import banknotes
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.optimizers import SGD
from netfleet.utils import set_random_seed


def count_batches(counter):
    return LambdaCallback(on_batch_end=lambda batch, logs: counter.append(batch))


def poison(model, members):
    """Set the first kernel of `members` to NaN."""
    weights = model.get_weights()
    kernel = weights[0] if model.num_members > 1 else weights[0][None]
    kernel[members] = np.nan
    weights[0] = kernel if model.num_members > 1 else kernel[0]
    model.set_weights(weights)


def test_stops_a_single_model_right_after_the_bad_batch(capsys, wines_data, wines_model):
    x, y = wines_data
    model = wines_model()
    poison(model, [0])
    batches = []
    history = model.fit(
        x, y, epochs=5, verbose=0, callbacks=[TerminateOnNaN(), count_batches(batches)]
    )
    assert batches == [0] and history.epoch == [0] and model.stop_training
    assert capsys.readouterr().out == "Batch 0: Invalid loss, terminating training\n"


def test_the_same_instance_lets_a_healthy_run_finish(wines_data, wines_model):
    x, y = wines_data
    callback = TerminateOnNaN()
    poisoned = wines_model()
    poison(poisoned, [0])
    poisoned.fit(x, y, epochs=3, verbose=0, callbacks=[callback])
    assert callback.stopped_members == [0]
    history = wines_model().fit(x, y, epochs=3, verbose=0, callbacks=[callback])
    assert history.epoch == [0, 1, 2] and callback.stopped_members == []


def test_freezes_only_the_members_that_diverge(capsys):
    x, y = banknotes.load_data()  # unscaled: SGD with a learning rate of 10 overflows
    set_random_seed(0)
    model = Sequential([Dense(1, input_shape=(4,))], seed=0)
    model.compile(SGD(learning_rate=[1e-3, 10.0]), "mse")
    callback = TerminateOnNaN()
    weights = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: weights.append(model.get_weights()))
    history = model.fit(x, y, epochs=3, batch_size=256, verbose=0, callbacks=[callback, record])
    assert callback.stopped_members == [1] and model.active_members == [0]
    assert "Invalid loss of members [1], terminating their training" in capsys.readouterr().out
    assert history.epoch == [0, 1, 2]
    loss = np.array(history.history["loss"])
    assert np.isfinite(loss[:, 0]).all() and not np.isfinite(loss[1:, 1]).any()
    np.testing.assert_array_equal(weights[1][0][1], weights[2][0][1])  # member 1 frozen
    assert not np.array_equal(weights[1][0][0], weights[2][0][0])  # member 0 trains on


def test_a_nan_member_in_a_fleet_is_frozen_at_its_first_batch(wines_data, wines_model):
    x, y = wines_data
    model = wines_model(SGD(learning_rate=[0.01, 0.02, 0.03]))
    poison(model, [2])
    callback = TerminateOnNaN()
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    assert callback.stopped_members == [2] and model.active_members == [0, 1]
    assert history.member(2).epoch == [0]
    assert history.member(0).epoch == [0, 1]
