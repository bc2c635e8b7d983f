"""EarlyStopping: Keras' rule per member, frozen members, best weights restored."""

import numpy as np
import pytest

from netfleet.callbacks import EarlyStopping, LambdaCallback
from netfleet.errors import InvalidArgumentError
from netfleet.optimizers import SGD, Adam

from .fakes import FakeModel, drive


def keras_stop_epoch(values, patience, min_delta=0.0, mode="min", baseline=None):
    """The epoch at which Keras 3's EarlyStopping stops on `values`, or None."""
    sign = 1 if mode == "min" else -1
    best, wait = None, 0
    for epoch, value in enumerate(values):
        wait += 1
        if best is None or sign * (value - best) < -min_delta:
            best = value
            if baseline is None or sign * (value - baseline) < -min_delta:
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch
    return None


def test_stops_after_patience_epochs_without_improvement():
    model = FakeModel()
    callback = EarlyStopping(monitor="loss", patience=2)
    epochs = drive(callback, model, [1.0, 0.9, 0.95, 0.93, 0.92, 0.5])
    assert epochs == 4
    assert model.stop_calls == [[0]]
    assert model.stop_training
    assert callback.stopped_epoch == 3
    assert callback.best_epoch == 1


def test_patience_zero_stops_at_the_first_epoch_without_improvement():
    model = FakeModel()
    callback = EarlyStopping(monitor="loss")
    assert drive(callback, model, [1.0, 0.9, 0.9, 0.1]) == 3
    assert callback.stopped_epoch == 2


def test_improvements_smaller_than_min_delta_do_not_count():
    model = FakeModel()
    callback = EarlyStopping(monitor="loss", patience=1, min_delta=0.05)
    assert drive(callback, model, [1.0, 0.97, 0.96, 0.5]) == 2
    assert callback.stopped_epoch == 1


def test_max_mode_for_accuracy():
    model = FakeModel()
    callback = EarlyStopping(monitor="val_accuracy", patience=1)
    assert drive(callback, model, [0.5, 0.6, 0.55, 0.7], key="val_accuracy") == 3


def test_improvements_that_miss_the_baseline_do_not_reset_the_wait():
    values = [0.9, 0.8, 0.8, 0.8, 0.1]
    with_baseline = EarlyStopping(monitor="loss", patience=2, baseline=0.5)
    drive(with_baseline, FakeModel(), values)
    without = EarlyStopping(monitor="loss", patience=2)
    drive(without, FakeModel(), values)
    assert with_baseline.stopped_epoch == keras_stop_epoch(values, 2, baseline=0.5) == 2
    assert without.stopped_epoch == keras_stop_epoch(values, 2) == 3


def test_start_from_epoch_skips_the_warm_up():
    model = FakeModel()
    callback = EarlyStopping(monitor="loss", start_from_epoch=3)
    assert drive(callback, model, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) == 5
    assert callback.stopped_epoch == 4


@pytest.mark.parametrize("patience", [0, 1, 3])
@pytest.mark.parametrize("min_delta", [0.0, 0.02])
def test_matches_keras_on_a_noisy_curve(patience, min_delta):
    values = 1 / np.arange(1, 41) + 0.03 * np.sin(np.arange(40) * 1.7)
    callback = EarlyStopping(monitor="loss", patience=patience, min_delta=min_delta)
    drive(callback, FakeModel(), values)
    assert callback.stopped_epoch == (keras_stop_epoch(values, patience, min_delta) or 0)


def test_each_member_stops_on_its_own_curve():
    model = FakeModel(3)
    values = np.array(
        [[1.0, 1.0, 1.0], [0.9, 1.1, 0.9], [0.8, 1.2, 0.95], [0.7, 1.3, 0.96], [0.6, 1.4, 0.5]]
    )
    callback = EarlyStopping(monitor="loss", patience=2)
    epochs = drive(callback, model, values)
    assert model.stop_calls == [[1], [2]]
    np.testing.assert_array_equal(callback.stopped_epochs, [0, 2, 3])
    np.testing.assert_array_equal(callback.stopped_epoch, [0, 2, 3])
    assert epochs == 5 and not model.stop_training


def test_missing_monitor_warns_and_never_stops():
    model = FakeModel()
    with pytest.warns(UserWarning, match="not in the logs"):
        assert drive(EarlyStopping(patience=0), model, [1.0, 2.0, 3.0]) == 3
    assert model.stop_calls == []


def test_the_same_instance_is_reset_between_fits():
    callback = EarlyStopping(monitor="loss", patience=1)
    drive(callback, FakeModel(), [1.0, 2.0, 3.0])
    assert callback.stopped_epoch == 1
    model = FakeModel()
    assert drive(callback, model, [5.0, 4.0, 3.0, 2.0]) == 4
    assert callback.stopped_epoch == 0 and model.stop_calls == []


def test_invalid_patience_is_rejected():
    with pytest.raises(InvalidArgumentError, match="'patience' argument of EarlyStopping"):
        EarlyStopping(patience=-1)


def test_verbose_prints_keras_message(capsys):
    drive(EarlyStopping(monitor="loss", verbose=1), FakeModel(), [1.0, 2.0])
    assert capsys.readouterr().out == "Epoch 2: early stopping\n"


def test_stops_a_real_fit_where_keras_would(wines_split, wines_model):
    x, y, x_val, y_val = wines_split
    model = wines_model(Adam(learning_rate=0.1))
    callback = EarlyStopping(patience=2)
    history = model.fit(
        x, y, epochs=60, validation_data=(x_val, y_val), verbose=0, callbacks=[callback]
    )
    expected = keras_stop_epoch(history.history["val_loss"], patience=2)
    assert expected is not None
    assert history.epoch[-1] == callback.stopped_epoch == expected


def record_weights(model, store):
    return LambdaCallback(on_epoch_end=lambda epoch, logs: store.append(model.get_weights()))


def test_fleet_members_stop_at_different_epochs_and_stay_frozen(banknotes_data, banknotes_model):
    x, y = banknotes_data
    model = banknotes_model(SGD(learning_rate=[1e-4, 0.5]))
    callback = EarlyStopping(monitor="loss", patience=1, min_delta=1e-3)
    weights = []
    history = model.fit(
        x,
        y,
        epochs=60,
        batch_size=128,
        verbose=0,
        callbacks=[callback, record_weights(model, weights)],
    )
    stopped = callback.stopped_epochs
    first, last = int(np.argmin(stopped)), int(np.argmax(stopped))
    assert 0 < stopped[first] < stopped[last] and history.epoch[-1] == stopped[last]
    loss = np.array(history.history["loss"])
    assert np.isnan(loss[stopped[first] + 1 :, first]).all()
    assert not np.isnan(loss[:, last]).any()
    for later in weights[stopped[first] + 1 :]:
        for at_stop, after in zip(weights[stopped[first]], later):
            np.testing.assert_array_equal(at_stop[first], after[first])
    assert not np.array_equal(weights[-1][0][last], weights[stopped[first]][0][last])
    for member in (first, last):
        single = history.member(member)
        assert single.epoch[-1] == stopped[member]
        assert not np.isnan(single.history["loss"]).any()


def fit_recording(model, data, callback, epochs):
    x, y, x_val, y_val = data
    weights = []
    history = model.fit(
        x,
        y,
        epochs=epochs,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[callback, record_weights(model, weights)],
    )
    return history, weights


def test_restore_best_weights_puts_back_the_best_epoch(wines_split, wines_model):
    model = wines_model(Adam(learning_rate=0.1))
    callback = EarlyStopping(patience=2, restore_best_weights=True)
    history, weights = fit_recording(model, wines_split, callback, epochs=60)
    best = int(np.argmin(history.history["val_loss"]))
    assert callback.best_epoch == best and callback.stopped_epoch == best + 2
    for restored, recorded in zip(model.get_weights(), weights[best]):
        np.testing.assert_array_equal(restored, recorded)


def test_restore_best_weights_also_without_stopping_as_keras_3(wines_split, wines_model):
    model = wines_model(Adam(learning_rate=0.1))
    callback = EarlyStopping(patience=100, restore_best_weights=True)
    history, weights = fit_recording(model, wines_split, callback, epochs=8)
    best = int(np.argmin(history.history["val_loss"]))
    assert callback.stopped_epoch == 0 and best < 7
    for restored, recorded in zip(model.get_weights(), weights[best]):
        np.testing.assert_array_equal(restored, recorded)


def test_restore_best_weights_per_member(wines_split, wines_model):
    model = wines_model(Adam(learning_rate=[0.02, 0.2]), seed=1)
    callback = EarlyStopping(patience=2, restore_best_weights=True)
    history, weights = fit_recording(model, wines_split, callback, epochs=30)
    best = np.nanargmin(np.array(history.history["val_loss"]), axis=0)
    np.testing.assert_array_equal(callback.best_epochs, best)
    assert best[0] != best[1]
    for member in (0, 1):
        for restored, recorded in zip(model.get_weights(), weights[best[member]]):
            np.testing.assert_array_equal(restored[member], recorded[member])
