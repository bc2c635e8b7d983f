"""`compile(weighted_metrics=...)` with Keras 3's semantics: plain `metrics` ignore the sample
weights (and class weights), `weighted_metrics` use them, and a weighted metric logs as
`weighted_<name>` only when a plain one has its name. Checked against numpy and Keras 3
itself, for fit (training and validation logs) and evaluate, the fused and autograd paths,
fleets against single runs (padded member rows count in no metric), several outputs, saved
files, stacking and bad input."""

import numpy as np
import pytest

from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.fleet import stack, unstack
from netfleet.layers import Concatenate, Dense, Input
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD
from netfleet.saving import load_model, save_model
from netfleet.utils import set_random_seed

N, FEATURES = 60, 4
CLASS_WEIGHT = {0: 0.3, 1: 2.5}
TINY = 1e-12  # a learning rate that leaves float32 weights as they are


@pytest.fixture
def data():
    """`(x, y, w)`: features, 0/1 labels (n, 1) and sample weights (n,)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N, FEATURES)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=N) > 0).astype(np.float32)[:, None]
    w = rng.uniform(0.1, 3.0, size=N).astype(np.float32)
    return x, y, w


def _mlp(optimizer=None, **compile_kwargs):
    """A small binary classifier (tanh: no output sits exactly on the threshold, as a dead
    ReLU layer would leave it); a vanishing learning rate by default (below float32's
    resolution of the weights), so that the training logs are the metrics of the weights
    that `predict` reads after fit."""
    set_random_seed(0)
    model = Sequential(
        [Dense(5, activation="tanh", input_shape=(FEATURES,)), Dense(1, activation="sigmoid")],
        seed=1,
    )
    optimizer = SGD(learning_rate=TINY) if optimizer is None else optimizer
    model.compile(optimizer, "binary_crossentropy", **compile_kwargs)
    return model


def _accuracies(model, x, y, w):
    """The plain and the `w`-weighted accuracy of `model`'s predictions, by hand."""
    correct = (model.predict(x, verbose=0)[:, 0] > 0.5) == (y[:, 0] > 0.5)
    return correct.mean(), (correct * w).sum() / w.sum()


def _weighting(kind, y, w):
    """fit's weighting argument of `kind` and the per-example weights it amounts to."""
    if kind == "sample_weight":
        return {"sample_weight": w}, w
    return {"class_weight": CLASS_WEIGHT}, np.where(y[:, 0] > 0.5, 2.5, 0.3)


# -- numbers and names ---------------------------------------------------------------------------
@pytest.mark.parametrize("run_eagerly", [False, True], ids=["fused", "autograd"])
@pytest.mark.parametrize("kind", ["sample_weight", "class_weight"])
def test_plain_metrics_ignore_weights_and_weighted_metrics_use_them(data, run_eagerly, kind):
    x, y, w = data
    model = _mlp(metrics=["accuracy"], weighted_metrics=["accuracy"], run_eagerly=run_eagerly)
    weighting, row_weights = _weighting(kind, y, w)
    history = model.fit(
        x, y, epochs=1, batch_size=16, validation_data=(x, y, w), verbose=0, **weighting
    ).history
    assert list(history) == [
        "loss",
        "accuracy",
        "weighted_accuracy",
        "val_loss",
        "val_accuracy",
        "val_weighted_accuracy",
    ]
    plain, weighted = _accuracies(model, x, y, row_weights)
    assert history["accuracy"][0] == pytest.approx(plain, rel=1e-6)
    assert history["weighted_accuracy"][0] == pytest.approx(weighted, rel=1e-5)
    plain, weighted = _accuracies(model, x, y, w)  # validation takes its own sample weights
    assert history["val_accuracy"][0] == pytest.approx(plain, rel=1e-6)
    assert history["val_weighted_accuracy"][0] == pytest.approx(weighted, rel=1e-5)


def test_a_metric_only_weighted_keeps_its_own_name(data):
    x, y, w = data
    model = _mlp(weighted_metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, validation_split=0.25, sample_weight=w, verbose=0)
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    train = slice(0, 45)
    _, weighted = _accuracies(model, x[train], y[train], w[train])
    assert history.history["accuracy"][0] == pytest.approx(weighted, rel=1e-5)


def test_evaluate_with_sample_weight(data):
    x, y, w = data
    model = _mlp(metrics=["accuracy"], weighted_metrics=["accuracy"])
    plain, weighted = _accuracies(model, x, y, w)
    logs = model.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    assert list(logs) == ["loss", "accuracy", "weighted_accuracy"]
    assert logs["accuracy"] == pytest.approx(plain, rel=1e-6)
    assert logs["weighted_accuracy"] == pytest.approx(weighted, rel=1e-5)
    values = model.evaluate(x, y, sample_weight=w, verbose=0)
    np.testing.assert_allclose(values, list(logs.values()), rtol=1e-6)
    unweighted = model.evaluate(x, y, return_dict=True, verbose=0)
    assert unweighted["weighted_accuracy"] == pytest.approx(plain, rel=1e-6)


def test_plain_metrics_alone_ignore_the_weights(data):
    x, y, w = data
    model = _mlp(metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0, class_weight=CLASS_WEIGHT).history
    plain, _ = _accuracies(model, x, y, w)
    assert list(history) == ["loss", "accuracy"]
    assert history["accuracy"][0] == pytest.approx(plain, rel=1e-6)
    logs = model.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    assert logs["accuracy"] == pytest.approx(plain, rel=1e-6)


# -- Keras 3 itself ------------------------------------------------------------------------------
def _keras_twin(keras, model, settings):
    """`_mlp`'s network in Keras 3, with `model`'s weights, compiled with `settings`."""
    reference = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(5, activation="tanh"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    reference.set_weights(model.get_weights())
    reference.compile(keras.optimizers.SGD(learning_rate=TINY), "binary_crossentropy", **settings)
    return reference


def test_the_same_numbers_and_names_as_keras(data, keras3):
    keras = keras3()
    x, y, w = data
    settings = {"metrics": ["accuracy", "mse"], "weighted_metrics": ["accuracy", "mae"]}
    model = _mlp(**settings)
    reference = _keras_twin(keras, model, settings)
    expected = reference.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    logs = model.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    assert sorted(logs) == sorted(expected)
    for key, value in expected.items():
        assert logs[key] == pytest.approx(value, rel=1e-5), key
    keras_history = reference.fit(
        x, y, epochs=1, batch_size=16, class_weight=CLASS_WEIGHT, shuffle=False, verbose=0
    ).history
    history = model.fit(x, y, epochs=1, batch_size=16, class_weight=CLASS_WEIGHT, verbose=0)
    assert sorted(history.history) == sorted(keras_history)
    for key, values in keras_history.items():
        assert history.history[key][0] == pytest.approx(values[0], rel=1e-5), key


@pytest.mark.parametrize("kind", ["sample_weight", "class_weight"])
def test_held_out_rows_keep_their_sample_weights_but_not_the_class_weights(data, kind, keras3):
    keras = keras3()
    x, y, w = data
    settings = {"metrics": ["accuracy"], "weighted_metrics": ["accuracy"]}
    model = _mlp(**settings)
    reference = _keras_twin(keras, model, settings)
    fit = {"epochs": 1, "batch_size": 16, "validation_split": 0.25, "verbose": 0}
    weighting, _ = _weighting(kind, y, w)
    expected = reference.fit(x, y, shuffle=False, **weighting, **fit).history
    history = model.fit(x, y, **weighting, **fit).history
    held_out = slice(int(N * 0.75), N)
    plain, weighted = _accuracies(model, x[held_out], y[held_out], w[held_out])
    wanted = weighted if kind == "sample_weight" else plain  # no class weights held out
    assert history["val_weighted_accuracy"][0] == pytest.approx(wanted, rel=1e-6)
    for key in ("val_loss", "val_accuracy", "val_weighted_accuracy"):
        assert history[key][0] == pytest.approx(expected[key][0], rel=1e-5), key


# -- fleets --------------------------------------------------------------------------------------
def test_a_fleet_of_three_equals_three_single_runs(data):
    x, y, w = data
    rates = [0.05, 0.1, 0.2]
    settings = {"metrics": ["accuracy"], "weighted_metrics": ["accuracy"]}
    run = {"epochs": 2, "batch_size": 16, "class_weight": CLASS_WEIGHT, "verbose": 0}
    fleet = _mlp(SGD(learning_rate=rates), **settings)
    fleet_history = fleet.fit(x, y, validation_data=(x, y, w), **run).history
    fleet_eval = fleet.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    for member, rate in enumerate(rates):
        single = _mlp(SGD(learning_rate=rate), **settings)
        history = single.fit(x, y, validation_data=(x, y, w), **run).history
        assert list(history) == list(fleet_history)
        for key, values in history.items():
            np.testing.assert_allclose(np.asarray(fleet_history[key])[:, member], values, rtol=1e-5)
        single_eval = single.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
        assert list(single_eval) == list(fleet_eval)
        for key, value in single_eval.items():
            assert fleet_eval[key][member] == pytest.approx(value, rel=1e-5), key


@pytest.mark.parametrize("chunk", [None, 2], ids=["whole", "sliced"])
@pytest.mark.parametrize("run_eagerly", [False, True], ids=["fused", "autograd"])
def test_padded_member_rows_count_in_no_metric(data, run_eagerly, chunk):
    x, y, w = data
    rows = [np.arange(0, 60), np.arange(0, 41), np.arange(13, 40)]
    sizes = [16, 8, 16]
    settings = {
        "metrics": ["accuracy"],
        "weighted_metrics": ["accuracy"],
        "run_eagerly": run_eagerly,
    }
    fleet = _mlp(SGD(learning_rate=[0.1, 0.1, 0.2]), **settings)
    fleet_history = fleet.fit(
        x,
        y,
        epochs=2,
        shuffle=False,
        sample_weight=w,
        member_rows=rows,
        member_batch_sizes=sizes,
        validation_data=(x, y, w),
        member_chunk_size=chunk,
        verbose=0,
    ).history
    for member, (own, size, rate) in enumerate(zip(rows, sizes, [0.1, 0.1, 0.2])):
        single = _mlp(SGD(learning_rate=rate), **settings)
        history = single.fit(
            x[own],
            y[own],
            epochs=2,
            shuffle=False,
            batch_size=size,
            sample_weight=w[own],
            validation_data=(x, y, w),
            verbose=0,
        ).history
        assert list(history) == list(fleet_history)
        for key, values in history.items():
            np.testing.assert_allclose(np.asarray(fleet_history[key])[:, member], values, rtol=1e-5)


def test_stacked_and_unstacked_models_keep_their_weighted_metrics():
    models = [_mlp(SGD(learning_rate=rate), weighted_metrics=["accuracy"]) for rate in (0.1, 0.2)]
    fleet = stack(models)
    assert fleet.compiled.weighted_metric_ids == ["accuracy"]
    assert [m.compiled.weighted_metric_ids for m in unstack(fleet)] == [["accuracy"]] * 2
    plain = _mlp(SGD(learning_rate=0.1), metrics=["accuracy"])
    with pytest.raises(InvalidArgumentError, match="another loss or metrics"):
        stack([models[0], plain])


# -- several outputs -----------------------------------------------------------------------------
def _two_outputs(**compile_kwargs):
    """Two inputs, a regression head `price` and a binary head `sold`."""
    set_random_seed(0)
    wide = Input(shape=(3,), name="wide")
    deep = Input(shape=(FEATURES,), name="deep")
    hidden = Dense(6, activation="relu", name="hidden")(deep)
    price = Dense(1, name="price")(Concatenate(name="merged")([wide, hidden]))
    sold = Dense(1, activation="sigmoid", name="sold")(hidden)
    model = Model([wide, deep], [price, sold], seed=1)
    model.compile(SGD(learning_rate=TINY), ["mse", "binary_crossentropy"], **compile_kwargs)
    return model


def test_several_outputs_get_keras_names_and_weighted_values(data):
    x, y, w = data
    wide, price = x[:, :3] * 2, x[:, 1:2] - x[:, 3:]
    model = _two_outputs(
        metrics={"price": ["mae"], "sold": ["accuracy"]},
        weighted_metrics={"price": ["mae"], "sold": ["accuracy", "mse"]},
    )
    names = [
        "loss",
        "price_loss",
        "sold_loss",
        "price_mae",
        "sold_accuracy",
        "price_weighted_mae",
        "sold_weighted_accuracy",
        "sold_mse",
    ]
    history = model.fit(
        [wide, x], [price, y], epochs=1, sample_weight=w, validation_split=0.5, verbose=0
    )
    assert list(history.history) == names + [f"val_{name}" for name in names]
    logs = model.evaluate([wide, x], [price, y], sample_weight=w, return_dict=True, verbose=0)
    assert list(logs) == names
    price_pred, sold_pred = model.predict([wide, x], verbose=0)
    error = np.abs(price_pred - price)[:, 0]
    correct = (sold_pred[:, 0] > 0.5) == (y[:, 0] > 0.5)
    assert logs["price_mae"] == pytest.approx(error.mean(), rel=1e-5)
    assert logs["price_weighted_mae"] == pytest.approx((error * w).sum() / w.sum(), rel=1e-5)
    assert logs["sold_accuracy"] == pytest.approx(correct.mean(), rel=1e-6)
    assert logs["sold_weighted_accuracy"] == pytest.approx((correct * w).sum() / w.sum(), rel=1e-5)
    squared = (sold_pred[:, 0] - y[:, 0]) ** 2
    assert logs["sold_mse"] == pytest.approx((squared * w).sum() / w.sum(), rel=1e-5)


def test_a_list_per_output_of_weighted_metrics(data):
    x, y, w = data
    model = _two_outputs(weighted_metrics=[["mae"], ["accuracy"]])
    logs = model.evaluate(
        [x[:, :3], x], [x[:, :1], y], sample_weight=w, return_dict=True, verbose=0
    )
    assert list(logs) == ["loss", "price_loss", "sold_loss", "price_mae", "sold_accuracy"]


# -- files and bad input -------------------------------------------------------------------------
def test_a_saved_model_keeps_its_weighted_metrics(data, tmp_path):
    x, y, w = data
    model = _mlp(metrics=["accuracy"], weighted_metrics=["accuracy", "mae"])
    save_model(model, tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    assert loaded.compiled.weighted_metric_ids == ["accuracy", "mae"]
    assert loaded.compiled.get_config() == model.compiled.get_config()
    expected = model.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    assert loaded.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0) == expected


def test_a_model_without_weighted_metrics_writes_no_entry_for_them():
    assert "weighted_metrics" not in _mlp(metrics=["accuracy"]).compiled.get_config()


@pytest.mark.parametrize(
    ("weighted_metrics", "error", "match"),
    [
        (5, InvalidTypeError, "The 'weighted_metrics' argument of compile must be a list"),
        ([3], InvalidTypeError, "The 'weighted_metrics' argument of compile must be a list of"),
        (["acuracy"], InvalidArgumentError, "Did you mean 'accuracy'"),
    ],
)
def test_bad_weighted_metrics_get_the_librarys_error(weighted_metrics, error, match):
    with pytest.raises(error, match=match):
        _mlp(weighted_metrics=weighted_metrics)


def test_weighted_metrics_for_an_output_the_model_lacks_are_named():
    with pytest.raises(InvalidArgumentError, match="'weighted_metrics' argument of compile"):
        _two_outputs(weighted_metrics={"prices": ["mae"]})
