"""Tests for netfleet.engine.training: fit / evaluate / predict as the course uses them
(banknotes, the learning-rate sweep, the wines exercise), Keras' semantics of their
arguments, and fleets against separate runs."""

import numpy as np
import pandas as pd
import pytest
import torch

import netfleet.backend as K
from netfleet.callbacks import Callback
from netfleet.layers import Dense, Input
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD, Adam
from netfleet.utils import set_random_seed

LEARNING_RATES = [0.01, 0.05, 0.1, 0.5]


def _logistic(optimizer="sgd", metrics=("accuracy",)):
    model = Sequential()
    model.add(Dense(1, input_shape=(4,), activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=list(metrics))
    return model


def _bce(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


@pytest.fixture
def small(rng):
    X = rng.normal(size=(40, 4))
    return X, (X[:, 0] - X[:, 2] > 0).astype(float)


# -- the notebook's logistic regression -----------------------------------------------------------
def test_notebook_logistic_regression_learns_banknotes(banknotes_split):
    """The notebook's cell: 'sgd' (learning rate 0.01), default batch size, 10 epochs. From
    glorot_uniform weights that is 300 small steps: the test accuracy passes 0.9 but not
    reliably 0.95 (as with Keras: the same updates, checked in the sweep test)."""
    X_train, X_test, y_train, y_test = banknotes_split
    K.clear_session()
    set_random_seed(0)
    model = _logistic()
    history = model.fit(X_train, y_train, epochs=10, verbose=0)
    result = model.evaluate(X_test, y_test, verbose=0)
    assert history.params["steps"] == 30  # default batch size 32 on 960 rows
    assert np.all(np.diff(history.history["loss"]) < 0)
    assert result[1] > 0.9


def test_notebook_learning_rate_sweep_reaches_95_percent(banknotes_split):
    X_train, X_test, y_train, y_test = banknotes_split
    set_random_seed(0)
    fleet = _logistic(SGD(learning_rate=LEARNING_RATES))
    fleet.fit(X_train, y_train, batch_size=16, epochs=10, verbose=0)
    loss, accuracy = fleet.evaluate(X_test, y_test, verbose=0)
    assert np.all(accuracy[1:] >= 0.95)  # learning rates 0.05, 0.1 and 0.5
    assert np.all(np.diff(loss) < 0)  # larger steps, lower loss after 10 epochs


def test_evaluate_equals_loss_and_accuracy_computed_from_predict(banknotes_split):
    X_train, X_test, y_train, y_test = banknotes_split
    model = _logistic(SGD(learning_rate=0.1))
    model.fit(X_train, y_train, epochs=2, verbose=0)
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    p = model.predict(X_test, verbose=0)[:, 0].astype(np.float64)
    np.testing.assert_allclose(loss, _bce(y_test, p).mean(), rtol=1e-4)
    np.testing.assert_allclose(accuracy, ((p > 0.5) == y_test).mean(), rtol=1e-6)


def test_history_has_keras_keys_epochs_and_a_dataframe_view(banknotes_split):
    X_train, X_test, y_train, y_test = banknotes_split
    model = _logistic()
    history = model.fit(X_train, y_train, epochs=3, verbose=0, validation_data=(X_test, y_test))
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert history.epoch == [0, 1, 2]
    assert all(isinstance(v, float) for v in history.history["loss"])
    assert model.history is history
    historydf = pd.DataFrame(history.history, index=history.epoch)
    assert historydf.shape == (3, 4)
    pd.testing.assert_frame_equal(history.to_frame(), historydf, check_names=False)


# -- the learning-rate sweep as one fleet -----------------------------------------------------------
def test_learning_rate_sweep_fleet_equals_separate_runs(banknotes_split):
    X_train, _, y_train, _ = banknotes_split
    set_random_seed(7)
    fleet = _logistic(SGD(learning_rate=LEARNING_RATES))
    assert fleet.num_members == 4
    history = fleet.fit(X_train, y_train, batch_size=16, epochs=3, verbose=0)
    for m, lr in enumerate(LEARNING_RATES):
        set_random_seed(7)
        single = _logistic(SGD(learning_rate=lr))
        alone = single.fit(X_train, y_train, batch_size=16, epochs=3, verbose=0)
        for key in ("loss", "accuracy"):
            member = [v[m] for v in history.history[key]]
            np.testing.assert_allclose(member, alone.history[key], rtol=1e-5)
        np.testing.assert_allclose(
            fleet.get_weights()[0][m], single.get_weights()[0], rtol=1e-4, atol=1e-6
        )


def test_sweep_frame_has_the_notebooks_multiindex(banknotes_split):
    X_train, _, y_train, _ = banknotes_split
    fleet = _logistic(SGD(learning_rate=LEARNING_RATES))
    history = fleet.fit(X_train, y_train, batch_size=16, epochs=2, verbose=0)
    historydf = history.to_frame()
    assert historydf.columns.names == ["learning_rate", "metric"]
    assert list(historydf.columns) == [
        (lr, metric) for lr in LEARNING_RATES for metric in ("loss", "accuracy")
    ]
    losses = historydf.xs("loss", axis=1, level="metric")
    assert list(losses.columns) == LEARNING_RATES and losses.shape == (2, 4)
    np.testing.assert_allclose(losses[0.5].values, [v[3] for v in history.history["loss"]])


def test_fleet_evaluate_returns_arrays_and_predict_a_member_axis(members, banknotes_split):
    X_train, X_test, y_train, y_test = banknotes_split
    model = _logistic(SGD(learning_rate=LEARNING_RATES[:members] if members > 1 else 0.1))
    history = model.fit(X_train, y_train, epochs=1, verbose=0)
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    predictions = model.predict(X_test, verbose=0)
    if members == 1:
        assert isinstance(loss, float) and isinstance(history.history["loss"][0], float)
        assert predictions.shape == (412, 1)
        return
    assert loss.shape == accuracy.shape == (members,)
    assert history.history["loss"][0].shape == (members,)
    assert predictions.shape == (members, 412, 1)
    for m in range(members):
        p = predictions[m, :, 0].astype(np.float64)
        np.testing.assert_allclose(loss[m], _bce(y_test, p).mean(), rtol=1e-4)


# -- the wines exercise ---------------------------------------------------------------------------
def test_wines_functional_network_converges_and_exposes_its_2d_features(wines):
    X, y = wines
    K.clear_session()
    set_random_seed(0)
    inputs = Input(shape=(13,))
    x = Dense(8, activation="tanh")(inputs)
    x = Dense(5, activation="tanh")(x)
    second_to_last = Dense(2, activation="tanh")(x)
    outputs = Dense(3, activation="softmax")(second_to_last)
    model = Model(inputs=inputs, outputs=outputs)
    model.compile(Adam(learning_rate=0.01), "categorical_crossentropy", ["accuracy"])
    history = model.fit(X, y, batch_size=16, epochs=20, verbose=0)
    assert history.history["accuracy"][-1] >= 0.95
    assert model.evaluate(X, y, verbose=0)[1] >= 0.95
    features = Model(inputs, second_to_last).predict(X, verbose=0)
    assert features.shape == (178, 2)
    features_function = K.function([inputs], [second_to_last])
    np.testing.assert_allclose(features_function([X])[0], features, rtol=1e-6)
    assert np.abs(features).max() <= 1.0  # tanh features


# -- validation -------------------------------------------------------------------------------------
def test_validation_split_holds_out_the_last_rows(small):
    X, y = small
    k = 10  # validation_split=0.25 of 40 rows

    def run(**kwargs):
        set_random_seed(3)
        model = _logistic(SGD(learning_rate=0.1))
        return model.fit(epochs=3, batch_size=8, verbose=0, **kwargs).history

    split = run(x=X, y=y, validation_split=0.25)
    explicit = run(x=X[:-k], y=y[:-k], validation_data=(X[-k:], y[-k:]))
    assert split == explicit


def test_validation_split_without_enough_rows_raises(small):
    X, y = small
    model = _logistic()
    with pytest.raises(ValueError, match="'validation_split' argument of fit leaves no"):
        model.fit(X[:1], y[:1], validation_split=0.5, verbose=0)


# -- evaluate -------------------------------------------------------------------------------------
def test_evaluate_returns_a_list_with_metrics_and_a_scalar_without(small):
    X, y = small
    with_metrics = _logistic()
    result = with_metrics.evaluate(X, y, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    assert with_metrics.evaluate(X, y, verbose=0, return_dict=True).keys() == {"loss", "accuracy"}
    without = _logistic(metrics=())
    loss = without.evaluate(X, y, verbose=0)
    assert isinstance(loss, float)


def test_evaluate_does_not_depend_on_the_batch_size(banknotes_split):
    _, X_test, _, y_test = banknotes_split
    model = _logistic(metrics=("accuracy", "auc"))
    whole = model.evaluate(X_test, y_test, batch_size=len(X_test), verbose=0)
    batched = model.evaluate(X_test, y_test, batch_size=7, verbose=0)
    np.testing.assert_allclose(batched, whole, rtol=1e-5)


# -- weights of examples ---------------------------------------------------------------------------
def test_sample_weight_scales_each_example_loss_over_the_batch_size(small):
    X, y = small
    weights = np.linspace(0.0, 2.0, len(X))
    model = _logistic(metrics=())
    p = model.predict(X, verbose=0)[:, 0].astype(np.float64)
    loss = model.evaluate(X, y, sample_weight=weights, batch_size=16, verbose=0)
    np.testing.assert_allclose(loss, (weights * _bce(y, p)).sum() / len(X), rtol=1e-5)


def test_sample_weight_changes_the_gradient_as_keras_formula_says(small):
    """One full-batch SGD step on sum(w * l) / batch_size, checked against autograd."""
    X, y = small
    weights = np.linspace(0.5, 1.5, len(X))
    model = _logistic(SGD(learning_rate=0.5), metrics=())
    kernel, bias = (
        torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in model.get_weights()
    )
    model.fit(X, y, sample_weight=weights, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    p = torch.sigmoid(torch.tensor(X) @ kernel + bias)[:, 0]
    per_example = torch.nn.functional.binary_cross_entropy(p, torch.tensor(y), reduction="none")
    ((torch.tensor(weights) * per_example).sum() / len(X)).backward()
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_allclose(
        new_kernel, (kernel - 0.5 * kernel.grad).detach(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(new_bias, (bias - 0.5 * bias.grad).detach(), rtol=1e-5, atol=1e-6)


def test_class_weight_equals_the_matching_sample_weight(small):
    X, y = small
    class_weight = {0: 0.3, 1: 2.0}

    def run(**kwargs):
        set_random_seed(5)
        model = _logistic(SGD(learning_rate=0.1))
        history = model.fit(X, y, epochs=2, batch_size=8, verbose=0, **kwargs)
        return history.history, model.get_weights()

    by_class = run(class_weight=class_weight)
    by_sample = run(sample_weight=np.where(y == 1, 2.0, 0.3))
    unweighted = run()
    assert by_class[0] == by_sample[0]
    assert by_class[0]["loss"] != unweighted[0]["loss"]


def test_class_weight_must_cover_every_class(small):
    X, y = small
    with pytest.raises(
        ValueError, match=r"'class_weight' argument of fit has no weight for classes \[1\]"
    ):
        _logistic().fit(X, y, class_weight={0: 1.0}, verbose=0)


# -- epochs, order, determinism --------------------------------------------------------------------
def test_initial_epoch_numbers_the_epochs_from_there(small, capsys):
    X, y = small
    history = _logistic().fit(X, y, epochs=5, initial_epoch=2, verbose=2)
    assert history.epoch == [2, 3, 4]
    assert len(history.history["loss"]) == 3
    out = capsys.readouterr().out
    assert "Epoch 3/5" in out and "Epoch 1/5" not in out


def test_shuffle_false_gives_the_same_run_whatever_the_seed(small):
    X, y = small
    runs = []
    for seed in (1, 2):
        model = Sequential([Dense(1, input_shape=(4,), activation="sigmoid")], seed=seed)
        model.compile(SGD(learning_rate=0.1), "binary_crossentropy", ["accuracy"])
        model.set_weights([np.full((4, 1), 0.1), np.zeros(1)])
        runs.append(model.fit(X, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history)
    assert runs[0] == runs[1]


def test_model_seed_fixes_the_batch_order(small):
    X, y = small

    def run(seed):
        model = Sequential([Dense(1, input_shape=(4,), activation="sigmoid")], seed=seed)
        model.compile(SGD(learning_rate=0.1), "binary_crossentropy")
        model.set_weights([np.full((4, 1), 0.1), np.zeros(1)])
        return model.fit(X, y, batch_size=8, epochs=2, verbose=0).history["loss"]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_set_random_seed_makes_two_runs_bitwise_equal(small, members):
    X, y = small

    def run():
        set_random_seed(11)
        model = Sequential(
            [Dense(3, input_shape=(4,), activation="relu"), Dense(1, activation="sigmoid")]
        )
        rates = [0.05, 0.1, 0.2][:members] if members > 1 else 0.1
        model.compile(SGD(learning_rate=rates), "binary_crossentropy", ["accuracy"])
        history = model.fit(X, y, batch_size=8, epochs=3, verbose=0)
        return history.history, model.get_weights()

    (h1, w1), (h2, w2) = run(), run()
    for key in h1:
        np.testing.assert_array_equal(np.array(h1[key]), np.array(h2[key]))
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_fit_again_continues_from_the_trained_weights(small):
    X, y = small
    set_random_seed(2)
    once = _logistic(SGD(learning_rate=0.1))
    once.fit(X, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    set_random_seed(2)
    twice = _logistic(SGD(learning_rate=0.1))
    twice.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    twice.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(once.get_weights(), twice.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


# -- input types ---------------------------------------------------------------------------------
def test_pandas_and_torch_inputs_train_like_numpy(small):
    X, y = small
    columns = ["a", "b", "c", "d"]

    def run(x, target):
        set_random_seed(4)
        model = _logistic(SGD(learning_rate=0.1))
        history = model.fit(x, target, batch_size=8, epochs=2, verbose=0)
        return history.history, model.evaluate(x, target, verbose=0)

    reference = run(X, y)
    assert run(pd.DataFrame(X, columns=columns), pd.Series(y)) == reference
    assert run(torch.tensor(X), torch.tensor(y)) == reference
    assert run(X.tolist(), y.astype(bool)) == reference


def test_wines_dummy_columns_from_pandas_train_like_to_categorical(wines):
    """The exercise says "use dummy columns": pd.get_dummies gives a DataFrame of bools."""
    from netfleet.datasets import wines as wines_module

    X, y = wines
    dummies = pd.get_dummies(wines_module.load_frame()["Class"])
    assert dummies.dtypes.iloc[0] == bool

    def run(target):
        set_random_seed(8)
        model = Sequential(
            [Dense(5, input_shape=(13,), activation="relu"), Dense(3, activation="softmax")]
        )
        model.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
        return model.fit(X, target, epochs=2, verbose=0, validation_split=0.2).history

    assert run(dummies) == run(y)


# -- progress output ---------------------------------------------------------------------------------
def test_verbose_1_prints_epochs_and_a_bar_with_the_logs(small, capsys):
    X, y = small
    _logistic().fit(X, y, epochs=3, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    for epoch in (1, 2, 3):
        assert f"Epoch {epoch}/3" in out
    assert "5/5" in out and "loss:" in out and "accuracy:" in out


def test_verbose_2_prints_one_line_per_epoch(small, capsys):
    X, y = small
    _logistic().fit(X, y, epochs=2, batch_size=8, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("4/4 - ") and " - loss: " in lines[1] and " - val_loss: " in lines[1]


def test_verbose_0_prints_nothing_and_evaluate_prints_a_bar(small, capsys):
    X, y = small
    model = _logistic()
    model.fit(X, y, epochs=2, verbose=0)
    model.predict(X, verbose=0)
    assert capsys.readouterr().out == ""
    model.evaluate(X, y, verbose=1)
    assert "loss:" in capsys.readouterr().out


def test_fleet_progress_shows_the_range_over_members(small, capsys):
    X, y = small
    _logistic(SGD(learning_rate=[0.01, 0.5])).fit(X, y, epochs=1, verbose=2)
    line = capsys.readouterr().out.splitlines()[1]
    assert "loss: " in line and ".." in line


# -- callbacks see Keras' hooks ---------------------------------------------------------------------
def test_callbacks_receive_epoch_logs_and_can_stop_training(small):
    X, y = small

    class StopAfterTwo(Callback):
        def on_train_begin(self, logs=None):
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append((epoch, sorted(logs)))
            if epoch == 1:
                self.model.stop_training = True

    callback = StopAfterTwo()
    history = _logistic().fit(X, y, epochs=10, verbose=0, callbacks=[callback])
    assert history.epoch == [0, 1]
    assert callback.seen == [(0, ["accuracy", "loss"]), (1, ["accuracy", "loss"])]
    assert callback.params["epochs"] == 10
