"""Tests for models with several inputs and outputs: a wide-and-deep functional model with two
inputs and two outputs, trained on lists or dicts of arrays, with per-output losses, loss
weights and metrics, Keras' log names and `evaluate` order, against the losses computed by
hand (Keras' formulas) and a torch reference step; fleets against single runs; bad input."""

import numpy as np
import pytest
import torch

from netfleet.layers import Concatenate, Dense, Input
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD, Adam
from netfleet.utils import set_random_seed

N, WIDE, DEEP = 48, 3, 4
WEIGHTS = [1.0, 0.5]


def _wide_and_deep(optimizer=None, loss=("mse", "binary_crossentropy"), **compile_kwargs):
    """Wide inputs go straight to the price head; deep inputs through a hidden layer that
    feeds both the price head and the sold head (a head of its own)."""
    set_random_seed(0)
    wide = Input(shape=(WIDE,), name="wide")
    deep = Input(shape=(DEEP,), name="deep")
    hidden = Dense(6, activation="relu", name="hidden")(deep)
    price = Dense(1, name="price")(Concatenate(name="merged")([wide, hidden]))
    sold = Dense(1, activation="sigmoid", name="sold")(hidden)
    model = Model([wide, deep], [price, sold], seed=1)
    optimizer = SGD(learning_rate=0.05) if optimizer is None else optimizer
    compile_kwargs.setdefault("loss_weights", WEIGHTS)
    model.compile(optimizer, loss=list(loss) if isinstance(loss, tuple) else loss, **compile_kwargs)
    return model


@pytest.fixture
def houses(rng):
    """`(wide, deep, price, sold)`: a regression target and a binary one."""
    wide, deep = rng.normal(size=(N, WIDE)), rng.normal(size=(N, DEEP))
    price = wide[:, :1] - deep[:, 1:2] + 0.1 * rng.normal(size=(N, 1))
    sold = (deep[:, 0] + wide[:, 1] > 0).astype(float)
    return wide, deep, price, sold


def _mse(y, p):
    return ((p.reshape(len(y), -1) - y.reshape(len(y), -1)) ** 2).mean(1)


def _bce(y, p):
    p = np.clip(p.reshape(-1).astype(np.float64), 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _same_weights(first, second):
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -- losses and loss weights -----------------------------------------------------------------------
def test_evaluate_gives_loss_output_losses_then_metrics_equal_to_keras_formulas(houses):
    wide, deep, price, sold = houses
    model = _wide_and_deep(metrics={"price": ["mae"], "sold": ["accuracy"]})
    model.fit([wide, deep], [price, sold], epochs=2, batch_size=16, verbose=0)
    loss, price_loss, sold_loss, price_mae, sold_accuracy = model.evaluate(
        [wide, deep], [price, sold], verbose=0
    )
    price_pred, sold_pred = model.predict([wide, deep], verbose=0)
    np.testing.assert_allclose(price_loss, _mse(price, price_pred).mean(), rtol=1e-5)
    np.testing.assert_allclose(sold_loss, _bce(sold, sold_pred).mean(), rtol=1e-5)
    np.testing.assert_allclose(loss, price_loss + 0.5 * sold_loss, rtol=1e-6)
    np.testing.assert_allclose(price_mae, np.abs(price_pred - price).mean(), rtol=1e-5)
    np.testing.assert_allclose(sold_accuracy, ((sold_pred[:, 0] > 0.5) == sold).mean())
    logs = model.evaluate([wide, deep], [price, sold], verbose=0, return_dict=True)
    assert list(logs) == ["loss", "price_loss", "sold_loss", "price_mae", "sold_accuracy"]


def test_logged_total_loss_is_the_weighted_sum_of_the_logged_output_losses(houses):
    wide, deep, price, sold = houses
    model = _wide_and_deep(loss_weights={"price": 2.0, "sold": 0.25})
    history = model.fit(
        [wide, deep], [price, sold], epochs=3, batch_size=16, validation_split=0.25, verbose=0
    ).history
    for prefix in ("", "val_"):
        total = np.asarray(history[f"{prefix}loss"])
        parts = 2.0 * np.asarray(history[f"{prefix}price_loss"]) + 0.25 * np.asarray(
            history[f"{prefix}sold_loss"]
        )
        np.testing.assert_allclose(total, parts, rtol=1e-6)


def test_one_step_follows_torch_autograd_on_the_weighted_sum_of_losses(houses):
    wide, deep, price, sold = houses
    model = _wide_and_deep(SGD(learning_rate=0.1), loss_weights=[0.7, 1.3])
    before = {name: model.get_layer(name).get_weights() for name in ("hidden", "price", "sold")}
    model.fit([wide, deep], [price, sold], batch_size=N, epochs=1, shuffle=False, verbose=0)

    params = {
        name: [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
        for name, weights in before.items()
    }
    x_wide, x_deep = torch.tensor(wide), torch.tensor(deep)
    hidden = torch.relu(x_deep @ params["hidden"][0] + params["hidden"][1])
    price_pred = torch.cat([x_wide, hidden], 1) @ params["price"][0] + params["price"][1]
    sold_pred = torch.sigmoid(hidden @ params["sold"][0] + params["sold"][1]).clamp(1e-7, 1 - 1e-7)
    y_sold = torch.tensor(sold).unsqueeze(1)
    price_loss = ((price_pred - torch.tensor(price)) ** 2).mean()
    sold_loss = -(y_sold * sold_pred.log() + (1 - y_sold) * (1 - sold_pred).log()).mean()
    (0.7 * price_loss + 1.3 * sold_loss).backward()
    for name, tensors in params.items():
        for trained, reference in zip(model.get_layer(name).get_weights(), tensors):
            expected = (reference - 0.1 * reference.grad).detach().numpy()
            np.testing.assert_allclose(trained, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_a_zero_loss_weight_leaves_that_heads_own_weights_unchanged(houses, optimizer):
    wide, deep, price, sold = houses
    model = _wide_and_deep(optimizer(learning_rate=0.05), loss_weights=[1, 0])
    untrained = {name: model.get_layer(name).get_weights() for name in ("hidden", "sold")}
    model.fit([wide, deep], [price, sold], epochs=3, batch_size=16, verbose=0)
    for before, after in zip(untrained["sold"], model.get_layer("sold").get_weights()):
        np.testing.assert_array_equal(before, after)
    hidden_change = model.get_layer("hidden").get_weights()[0] - untrained["hidden"][0]
    assert np.abs(hidden_change).max() > 1e-4  # the price head still trains the shared layer


def test_a_single_outputs_loss_weight_scales_its_loss_and_gradient(rng):
    x, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))

    def fitted(learning_rate, **compile_kwargs):
        set_random_seed(0)
        model = Sequential([Dense(2, activation="tanh", input_shape=(3,)), Dense(1)], seed=1)
        model.compile(SGD(learning_rate=learning_rate), "mse", **compile_kwargs)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return model

    weighted, plain = fitted(0.05, loss_weights=[2.0]), fitted(0.1)
    _same_weights(weighted, plain)  # SGD: twice the loss is twice the step
    mse = _mse(y, plain.predict(x, verbose=0)).mean()
    np.testing.assert_allclose(weighted.evaluate(x, y, verbose=0), 2 * mse, rtol=1e-5)


# -- structures: lists, dicts, one loss for all ----------------------------------------------------
def test_dicts_by_name_and_lists_in_order_train_the_same(houses):
    wide, deep, price, sold = houses
    by_list = _wide_and_deep()
    listed = by_list.fit([wide, deep], [price, sold], epochs=2, batch_size=16, verbose=0)
    by_name = _wide_and_deep(
        loss={"sold": "binary_crossentropy", "price": "mse"},
        loss_weights={"sold": 0.5},  # price: 1 when left out
    )
    named = by_name.fit(
        {"deep": deep, "wide": wide},
        {"sold": sold, "price": price},
        epochs=2,
        batch_size=16,
        verbose=0,
    )
    _same_weights(by_list, by_name)
    assert listed.history == pytest.approx(named.history)
    for a, b in zip(
        by_list.predict([wide, deep], verbose=0),
        by_name.predict({"wide": wide, "deep": deep}, verbose=0),
    ):
        np.testing.assert_array_equal(a, b)


def test_one_loss_applies_to_every_output(houses):
    wide, deep, price, sold = houses
    model = _wide_and_deep(loss="mse", loss_weights=None)
    loss, price_loss, sold_loss = model.evaluate([wide, deep], [price, sold], verbose=0)
    _, sold_pred = model.predict([wide, deep], verbose=0)
    np.testing.assert_allclose(sold_loss, _mse(sold, sold_pred).mean(), rtol=1e-5)
    np.testing.assert_allclose(loss, price_loss + sold_loss, rtol=1e-6)


@pytest.mark.parametrize(
    ("metrics", "names"),
    [
        (None, []),
        (["accuracy"], ["price_accuracy", "sold_accuracy"]),  # a flat list: every output
        (["mae", "accuracy"], ["price_mae", "sold_accuracy"]),  # one per output (Keras 3)
        ([["mae", "mse"], ["accuracy"]], ["price_mae", "price_mse", "sold_accuracy"]),
        ([None, "accuracy"], ["sold_accuracy"]),
        ({"sold": "accuracy"}, ["sold_accuracy"]),
        (
            ["mae", "mse", "accuracy"],
            [f"{o}_{m}" for o in ("price", "sold") for m in ("mae", "mse", "accuracy")],
        ),
    ],
)
def test_per_output_metrics_log_under_keras_names(houses, metrics, names):
    wide, deep, price, sold = houses
    model = _wide_and_deep(metrics=metrics)
    history = model.fit(
        [wide, deep],
        [price, sold],
        epochs=1,
        verbose=0,
        validation_data=([wide, deep], [price, sold]),
    )
    keys = ["loss", "price_loss", "sold_loss", *names]
    assert list(history.history) == keys + [f"val_{key}" for key in keys]
    assert len(model.evaluate([wide, deep], [price, sold], verbose=0)) == len(keys)


def test_sample_weight_for_every_output_or_per_output(houses, rng):
    wide, deep, price, sold = houses
    weights = rng.random(N) + 0.5
    model = _wide_and_deep()
    price_pred, sold_pred = model.predict([wide, deep], verbose=0)
    expected_price = (weights * _mse(price, price_pred)).sum() / N  # Keras: weighted sum / rows
    expected_sold = (weights * _bce(sold, sold_pred)).sum() / N
    for sample_weight in (weights, [weights, weights], {"price": weights, "sold": weights}):
        _, price_loss, sold_loss = model.evaluate(
            [wide, deep], [price, sold], sample_weight=sample_weight, verbose=0
        )
        np.testing.assert_allclose(
            [price_loss, sold_loss], [expected_price, expected_sold], rtol=1e-5
        )
    _, price_loss, sold_loss = model.evaluate(
        [wide, deep], [price, sold], sample_weight={"sold": weights}, verbose=0
    )
    np.testing.assert_allclose(price_loss, _mse(price, price_pred).mean(), rtol=1e-5)
    np.testing.assert_allclose(sold_loss, expected_sold, rtol=1e-5)


def test_validation_split_and_validation_data_take_lists_and_dicts(houses):
    wide, deep, price, sold = houses
    model = _wide_and_deep()
    history = model.fit(
        [wide, deep], [price, sold], epochs=1, validation_split=0.25, shuffle=False, verbose=0
    )
    held_out = slice(36, N)
    expected = model.evaluate(
        {"wide": wide[held_out], "deep": deep[held_out]},
        {"price": price[held_out], "sold": sold[held_out]},
        verbose=0,
        return_dict=True,
    )
    for key, value in expected.items():
        assert history.history[f"val_{key}"][-1] == pytest.approx(value, rel=1e-5)
    history = model.fit(
        [wide, deep],
        [price, sold],
        epochs=1,
        verbose=0,
        validation_data=({"wide": wide, "deep": deep}, {"price": price, "sold": sold}),
    )
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate([wide, deep], [price, sold], verbose=0)[0], rel=1e-5
    )


def test_two_inputs_one_output_logs_as_a_single_output_model_and_takes_class_weight(houses):
    wide, deep, _, sold = houses
    set_random_seed(0)
    inputs = [Input(shape=(WIDE,), name="wide"), Input(shape=(DEEP,), name="deep")]
    output = Dense(1, activation="sigmoid")(Concatenate()(inputs))
    model = Model(inputs, output, seed=1)
    model.compile(SGD(learning_rate=0.1), "binary_crossentropy", ["accuracy"])
    history = model.fit([wide, deep], sold, epochs=1, verbose=0, class_weight={0: 1.0, 1: 3.0})
    assert list(history.history) == ["loss", "accuracy"]
    by_class = model.evaluate([wide, deep], sold, verbose=0, sample_weight=1 + 2 * sold)
    pred = model.predict([wide, deep], verbose=0)
    np.testing.assert_allclose(by_class[0], ((1 + 2 * sold) * _bce(sold, pred)).mean(), rtol=1e-5)


# -- fleets ----------------------------------------------------------------------------------------
def test_a_fleet_of_three_equals_three_single_runs(houses):
    wide, deep, price, sold = houses
    rates = [0.01, 0.05, 0.2]
    fleet = _wide_and_deep(SGD(learning_rate=rates), metrics=["accuracy"])
    fleet_history = fleet.fit(
        [wide, deep], [price, sold], epochs=3, batch_size=16, validation_split=0.25, verbose=0
    ).history
    fleet_eval = fleet.evaluate([wide, deep], [price, sold], verbose=0)
    fleet_pred = fleet.predict([wide, deep], verbose=0)
    for member, rate in enumerate(rates):
        single = _wide_and_deep(SGD(learning_rate=rate), metrics=["accuracy"])
        history = single.fit(
            [wide, deep], [price, sold], epochs=3, batch_size=16, validation_split=0.25, verbose=0
        ).history
        assert list(history) == list(fleet_history)
        for key, values in history.items():
            np.testing.assert_allclose(np.asarray(fleet_history[key])[:, member], values, rtol=1e-5)
        for fleet_weight, weight in zip(fleet.get_weights(), single.get_weights()):
            np.testing.assert_allclose(fleet_weight[member], weight, rtol=1e-5, atol=1e-6)
        single_eval = single.evaluate([wide, deep], [price, sold], verbose=0)
        np.testing.assert_allclose([v[member] for v in fleet_eval], single_eval, rtol=1e-5)
        for fleet_out, out in zip(fleet_pred, single.predict([wide, deep], verbose=0)):
            np.testing.assert_allclose(fleet_out[member], out, rtol=1e-5, atol=1e-6)


def test_member_rows_batch_sizes_and_validation_rows_work_with_several_inputs(houses):
    wide, deep, price, sold = houses
    rows = [np.arange(0, 32), np.arange(16, 48)]
    validation_rows = [np.arange(32, 48), np.arange(0, 16)]
    fleet = _wide_and_deep(SGD(learning_rate=[0.05, 0.05]))
    history = fleet.fit(
        [wide, deep],
        [price, sold],
        epochs=2,
        shuffle=False,
        member_rows=rows,
        member_batch_sizes=[8, 16],
        member_validation_rows=validation_rows,
        verbose=0,
    ).history
    for member, (own, held_out, batch_size) in enumerate(zip(rows, validation_rows, [8, 16])):
        single = _wide_and_deep(SGD(learning_rate=0.05))
        single.fit(
            [wide[own], deep[own]],
            [price[own], sold[own]],
            epochs=2,
            shuffle=False,
            batch_size=batch_size,
            verbose=0,
        )
        for fleet_weight, weight in zip(fleet.get_weights(), single.get_weights()):
            np.testing.assert_allclose(fleet_weight[member], weight, rtol=1e-5, atol=1e-6)
        expected = single.evaluate(
            [wide[held_out], deep[held_out]], [price[held_out], sold[held_out]], verbose=0
        )
        np.testing.assert_allclose(history["val_sold_loss"][-1][member], expected[2], rtol=1e-5)


# -- bad input -------------------------------------------------------------------------------------
def _assert_rejected(model, error, match, method="fit", **kwargs):
    """`model.<method>(**kwargs)` raises `error` matching `match`, weights untouched."""
    before = model.get_weights()
    with pytest.raises(error, match=match):
        getattr(model, method)(**({"verbose": 0} | kwargs))
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_an_input_of_the_wrong_shape_is_named_with_what_it_expects(houses, method):
    wide, deep, price, sold = houses
    targets = {} if method == "predict" else {"y": [price, sold]}
    _assert_rejected(
        _wide_and_deep(),
        ValueError,
        rf"'x\[1\]' argument of {method} has examples of shape \(3,\) \(array shape \(48, 3\)\), "
        r"but the model's input 'deep' expects examples of shape \(4,\)",
        method,
        x=[wide, deep[:, :3]],
        **targets,
    )
    _assert_rejected(
        _wide_and_deep(),
        ValueError,
        r"'x\['wide'\]' argument .* input 'wide' expects examples of shape \(3,\)",
        method,
        x={"wide": deep, "deep": deep},
        **targets,
    )


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (
            "one array",
            (
                r"'x' argument of fit must be a list of 2 arrays, one per input of the "
                r"model \('wide', 'deep'\), or a dict by input name. Got an array of "
                r"shape \(48, 3\)"
            ),
        ),
        ("three arrays", r"must be a list of 2 arrays.*Got a list of 3"),
        (
            "unknown name",
            (
                r"has the key 'dep', which is not an input of the model. Did you mean "
                r"'deep'\?"
            ),
        ),
        ("missing name", r"has no array for the model's inputs 'deep'"),
        (
            "other lengths",
            (
                r"'x\[0\]' and 'x\[1\]' arguments of fit must have the same number of "
                r"examples. Got 48 and 40"
            ),
        ),
    ],
)
def test_inputs_that_do_not_match_the_models_inputs(houses, x, match):
    wide, deep, price, sold = houses
    given = {
        "one array": wide,
        "three arrays": [wide, deep, deep],
        "unknown name": {"wide": wide, "dep": deep},
        "missing name": {"wide": wide},
        "other lengths": [wide, deep[:40]],
    }[x]
    _assert_rejected(_wide_and_deep(), ValueError, match, x=given, y=[price, sold])


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (
            "one array",
            (
                r"'y' argument of fit must be a list of 2 target arrays, one per output "
                r"of the model \('price', 'sold'\), or a dict by output name. Got an array "
                r"of shape \(48, 1\)"
            ),
        ),
        ("one of two", r"must be a list of 2 target arrays.*Got a list of 1"),
        (
            "unknown name",
            (
                r"'y' argument of fit has the key 'solds', which is not an output of "
                r"the model. Did you mean 'sold'\?"
            ),
        ),
        (
            "wrong shape",
            (
                r"'y\[0\]' argument of fit has labels of shape \(2,\).*the model's output "
                r"'price' has shape \(1,\)"
            ),
        ),
    ],
)
def test_targets_that_do_not_match_the_models_outputs(houses, y, match):
    wide, deep, price, sold = houses
    given = {
        "one array": price,
        "one of two": [price],
        "unknown name": {"price": price, "solds": sold},
        "wrong shape": [np.hstack([price, price]), sold],
    }[y]
    _assert_rejected(_wide_and_deep(), ValueError, match, x=[wide, deep], y=given)


@pytest.mark.parametrize(
    ("compile_kwargs", "match"),
    [
        (
            {"loss": {"price": "mse", "sald": "mse"}},
            (
                r"'loss' argument of compile names the output 'sald', which the model does "
                r"not have. Did you mean 'sold'\? The model's outputs: 'price', 'sold'"
            ),
        ),
        (
            {"loss": {"price": "mse"}},
            r"'loss' argument of compile has no loss for the outputs 'sold'",
        ),
        (
            {"loss": ["mse"]},
            (
                r"'loss' argument of compile must have one loss per output of the "
                r"model \(2: 'price', 'sold'\).*Got a list of 1"
            ),
        ),
        (
            {"metrics": {"prize": ["mae"]}},
            r"'metrics' argument of compile names the output 'prize'",
        ),
        (
            {"metrics": [["mae"], ["mse"], ["mae"]]},
            (
                r"'metrics' argument of compile must have one "
                r"entry per output"
            ),
        ),
        (
            {"loss_weights": {"prices": 1.0}},
            (
                r"'loss_weights' argument of compile names the output "
                r"'prices'.*Did you mean 'price'"
            ),
        ),
        (
            {"loss_weights": [1.0, 2.0, 3.0]},
            (
                r"'loss_weights' argument of compile must have one "
                r"weight per output"
            ),
        ),
        (
            {"loss_weights": 2.0},
            (
                r"'loss_weights' argument of compile must have one weight per "
                r"output"
            ),
        ),
        (
            {"loss_weights": [1.0, "2"]},
            r"'loss_weights' argument of compile must be finite numbers",
        ),
        ({"loss_weights": [1.0, float("nan")]}, r"must be finite numbers"),
    ],
)
def test_compile_rejects_per_output_settings_that_do_not_fit_the_outputs(compile_kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _wide_and_deep(**({"loss": ("mse", "mse")} | compile_kwargs))


def test_class_weight_on_several_outputs_is_refused(houses):
    wide, deep, price, sold = houses
    _assert_rejected(
        _wide_and_deep(),
        ValueError,
        r"'class_weight' argument of fit applies to models with one output; this one has 2",
        x=[wide, deep],
        y=[price, sold],
        class_weight={0: 1.0, 1: 2.0},
    )


def test_channels_first_images_for_a_channels_last_model_get_a_layout_hint():
    from netfleet.errors import InvalidArgumentError
    from netfleet.layers import Conv2D, Flatten

    model = Sequential([Input(shape=(6, 6, 1)), Conv2D(2, 3), Flatten(), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(InvalidArgumentError, match=r"channels-first images.*np.moveaxis"):
        model.fit(np.zeros((4, 1, 6, 6), "float32"), np.zeros((4, 2), "float32"), verbose=0)
