"""Tests for netfleet.engine.fused: the training step without autograd against the autograd
step (the oracle) on one batch, for every kind of model it takes, and `fit` with each
(`compile(run_eagerly=True)` selecting autograd)."""

import numpy as np
import pytest
import torch

from netfleet import losses
from netfleet.callbacks import LambdaCallback
from netfleet.engine import fused, training
from netfleet.engine.batching import Batch
from netfleet.layers import Activation, Dense, Dropout, Flatten, Input, Layer
from netfleet.models import Model, Sequential
from netfleet.ops.context import ForwardContext, forward_context
from netfleet.optimizers import SGD, Adam
from netfleet.utils import set_random_seed

ROWS, FEATURES, BATCH = 24, 5, 8
HIDDEN = ["linear", "relu", "sigmoid", "tanh"]
# (final activation, loss, output units, label kind)
HEADS = [
    ("sigmoid", "binary_crossentropy", 1, "binary"),
    ("sigmoid", "binary_crossentropy", 3, "binary"),
    ("softmax", "categorical_crossentropy", 4, "soft"),
    ("softmax", "categorical_crossentropy", 4, "one_hot"),
    ("softmax", "sparse_categorical_crossentropy", 4, "integers"),
    ("linear", "mean_squared_error", 2, "values"),
    ("tanh", "mean_squared_error", 2, "values"),
]
BATCHES = ["shared", "own", "masked"]


def _labels(kind, units, rng):
    if kind == "binary":
        return (rng.random((ROWS, units)) > 0.5).astype("float32")
    if kind == "soft":
        return rng.dirichlet(np.ones(units), ROWS).astype("float32")
    if kind == "one_hot":
        return np.eye(units, dtype="float32")[rng.integers(units, size=ROWS)]
    if kind == "integers":
        return rng.integers(units, size=ROWS)
    return rng.normal(size=(ROWS, units)).astype("float32")


def _network(depth, hidden, final, units, use_bias):
    """One Dense, or Dense → Dense → Activation → Dense → Activation(final)."""
    if depth == 1:
        return [Dense(units, activation=final, use_bias=use_bias, input_shape=(FEATURES,))]
    return [
        Dense(6, activation=hidden, use_bias=use_bias, input_shape=(FEATURES,)),
        Dense(4, use_bias=use_bias),
        Activation(hidden),
        Dense(units, use_bias=use_bias),
        Activation(final),
    ]


def _zeros_dataset(model):
    y = [np.zeros((ROWS, shape[-1])) for shape in model.output_example_shapes]
    return training.Dataset(model, np.zeros((ROWS, FEATURES)), y, "fit")


def _step_for(model):
    logits = model.compiled.logits_activation(model.final_activation())
    return fused.training_step(model, _zeros_dataset(model), model.parameter_store(), logits)


def _compiled(layers, loss, members):
    """A model of `members` members with distinct random weights."""
    model = Sequential(layers)
    model.compile(optimizer="sgd", loss=loss)
    model.set_members(members)
    generator = torch.Generator().manual_seed(0)
    store = model.parameter_store()
    store.data.copy_(torch.randn(store.data.shape, generator=generator))
    return model


def _batch(kind, members, rng):
    if kind == "shared":
        return Batch(torch.as_tensor(rng.permutation(ROWS)[:BATCH]))
    idx = torch.as_tensor(rng.integers(ROWS, size=(members, BATCH)))
    if kind == "own":
        return Batch(idx)
    mask = torch.as_tensor(rng.random((members, BATCH)) > 0.4).float()
    mask[:, 0] = 1.0  # every member has a row
    return Batch(idx, mask)


def _step(model, dataset, batch, use_fused):
    """store.grad, the members' losses and the accumulated logs after one step."""
    store = model.parameter_store()
    logits = model.compiled.logits_activation(model.final_activation())
    accumulator = training.Accumulator(dataset, store.members)
    weights = training._example_weights(batch, dataset)
    generators = [torch.Generator().manual_seed(m) for m in range(store.members)]
    with forward_context(ForwardContext(True, generators)):
        if use_fused:
            step = fused.training_step(model, dataset, store, logits, member_losses=True)
            assert step is not None
            store.grad.fill_(float("nan"))  # every slot must be overwritten
            loss = step(batch, accumulator, weights)
        else:
            loss = training._forward_loss(model, batch, dataset, accumulator, logits, True)
            store.zero_grad()
            torch.autograd.backward(loss, torch.ones(store.members))
    return store.grad.clone(), loss.detach(), accumulator.running()


def _assert_same_step(model, x, y, batch, sample_weight=None):
    dataset = training.Dataset(model, x, y, "fit", sample_weight)
    grad, loss, logs = _step(model, dataset, batch, use_fused=True)
    expected_grad, expected_loss, expected_logs = _step(model, dataset, batch, use_fused=False)
    scale = float(expected_grad.abs().max())
    torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-5 * scale)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-6, atol=0)
    for key, value in expected_logs.items():
        torch.testing.assert_close(logs[key], value, rtol=1e-6, atol=0)


# -- gradients equal autograd's --------------------------------------------------------------------
@pytest.mark.parametrize("head", HEADS, ids=lambda h: f"{h[0]}-{h[1]}-{h[2]}-{h[3]}")
@pytest.mark.parametrize(
    ("depth", "hidden"), [(1, None)] + [(3, hidden) for hidden in HIDDEN], ids=str
)
def test_gradients_equal_autograd_for_every_qualifying_combination(head, depth, hidden):
    final, loss, units, kind = head
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, FEATURES)).astype("float32")
    y = _labels(kind, units, rng)
    for members in (1, 3):
        for use_bias in (True, False):
            for batch_kind in BATCHES:
                for sample_weight in (None, rng.random(ROWS) + 0.5):
                    model = _compiled(
                        _network(depth, hidden, final, units, use_bias), loss, members
                    )
                    batch = _batch(batch_kind, members, rng)
                    _assert_same_step(model, x, y, batch, sample_weight)


@pytest.mark.parametrize("members", [1, 3])
@pytest.mark.parametrize("batch_kind", BATCHES)
def test_gradients_equal_autograd_with_extra_axes_flatten_and_dropout(members, batch_kind):
    """An activation and Dropout before the first Dense, a Dense on (rows, 3, 4) examples,
    Flatten and Dropout between Dense layers."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(ROWS, 3, 4)).astype("float32")
    y = rng.integers(5, size=ROWS)
    layers = [
        Activation("tanh", input_shape=(3, 4)),
        Dropout(0.25),
        Dense(6, activation="relu"),
        Flatten(),
        Dropout(0.5),
        Dense(5, activation="softmax"),
    ]
    model = _compiled(layers, "sparse_categorical_crossentropy", members)
    _assert_same_step(model, x, y, _batch(batch_kind, members, rng))


# -- what qualifies --------------------------------------------------------------------------------
class _Scale(Layer):
    def call(self, inputs, training=False):
        return 2 * inputs


def _dense_chain(*more):
    return [Dense(4, activation="relu", input_shape=(FEATURES,)), *more]


@pytest.mark.parametrize(
    ("layers", "loss"),
    [
        (_dense_chain(Dense(3, activation="softmax")), "categorical_crossentropy"),
        (_dense_chain(Dense(1, activation="sigmoid")), "binary_crossentropy"),
        (_dense_chain(Dense(2), Flatten()), "mse"),
        (_dense_chain(Dense(2, activation="sigmoid")), "mse"),
    ],
    ids=["softmax-cce", "sigmoid-bce", "flatten-mse", "sigmoid-mse"],
)
def test_chains_of_dense_layers_qualify(layers, loss):
    assert _step_for(_compiled(layers, loss, 1)) is not None


def _frozen_first_layer():
    layers = _dense_chain(Dense(1))
    layers[0].trainable = False
    return layers


@pytest.mark.parametrize(
    ("layers", "loss"),
    [
        (_dense_chain(Dense(3, activation="softmax")), "mse"),
        (_dense_chain(Dense(1)), "binary_crossentropy"),
        (_dense_chain(Dense(1)), "mae"),
        (_dense_chain(Dense(1)), lambda y, p: (p - y).abs().mean(-1)),
        (_dense_chain(Dense(1, activation="elu")), "mse"),
        (_dense_chain(Dense(3, activation="softmax"), Dense(1)), "mse"),
        (_dense_chain(_Scale(), Dense(1)), "mse"),
        (_frozen_first_layer(), "mse"),
    ],
    ids=[
        "softmax-mse",
        "bce-on-linear-outputs",
        "mae",
        "custom-loss",
        "elu",
        "hidden-softmax",
        "custom-layer",
        "frozen-layer",
    ],
)
def test_other_models_fall_back_to_autograd(layers, loss):
    assert _step_for(_compiled(layers, loss, 1)) is None


def _twice(x):
    shared = Dense(FEATURES)
    return shared(shared(x))


def _functional(outputs_of):
    inputs = Input(shape=(FEATURES,))
    model = Model(inputs, outputs_of(inputs))
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize(
    "outputs_of",
    [
        lambda x: [Dense(1)(x), Dense(1)(x)],
        _twice,
    ],
    ids=["two-outputs", "layer-used-twice"],
)
def test_graphs_that_are_not_chains_of_distinct_layers_fall_back(outputs_of):
    assert _step_for(_functional(outputs_of)) is None


# -- the loss heads -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "logits", "kind", "units"),
    [
        ("binary_crossentropy", True, "binary", 1),
        ("binary_crossentropy", True, "binary", 3),
        ("categorical_crossentropy", True, "soft", 4),
        ("sparse_categorical_crossentropy", True, "integers", 4),
        ("mean_squared_error", False, "values", 1),
        ("mean_squared_error", False, "values", 3),
    ],
)
def test_each_declared_loss_gradient_is_its_factor_times_autograds(name, logits, kind, units):
    loss = losses.get(name)
    value = loss.logits_fn if logits else loss.fn
    gradient = loss.logits_gradient if logits else loss.gradient
    y = torch.as_tensor(_labels(kind, units, np.random.default_rng(2)))
    outputs = torch.randn(2, ROWS, units, requires_grad=True)
    value(y, outputs).sum().backward()
    expected = outputs.grad * gradient.factor(units)
    torch.testing.assert_close(gradient.fn(y, outputs.detach()), expected)


# -- fit -------------------------------------------------------------------------------------------
def _fit(make, fit_kwargs, use_fused, monkeypatch):
    """The history and batch losses of `make(run_eagerly)` fitted with the fused step or,
    with `run_eagerly=True`, autograd (checked used)."""
    backward, calls = torch.autograd.backward, []
    monkeypatch.setattr(torch.autograd, "backward", lambda *a: calls.append(a) or backward(*a))
    batch_losses = []
    record = LambdaCallback(on_train_batch_end=lambda _, logs: batch_losses.append(logs["loss"]))
    set_random_seed(3)
    model = make(run_eagerly=not use_fused)
    history = model.fit(verbose=0, callbacks=[record], **fit_kwargs).history
    assert bool(calls) is not use_fused
    monkeypatch.undo()
    return {**history, "batch_loss": batch_losses}


def _assert_equal_histories(make, fit_kwargs, monkeypatch):
    fused_history = _fit(make, fit_kwargs, True, monkeypatch)
    autograd_history = _fit(make, fit_kwargs, False, monkeypatch)
    assert list(fused_history) == list(autograd_history)
    for key, values in autograd_history.items():
        np.testing.assert_allclose(fused_history[key], values, rtol=1e-5, atol=1e-7)


def _banknotes():
    from netfleet.datasets import banknotes

    x, y = banknotes.load_data()
    return (x - x.mean(0)) / x.std(0), y


def _banknotes_fleet(learning_rates=(0.01, 0.05, 0.1, 0.5), run_eagerly=False):
    model = Sequential([Dense(1, input_shape=(4,), activation="sigmoid")])
    rates = list(learning_rates) if len(learning_rates) > 1 else learning_rates[0]
    model.compile(
        SGD(learning_rate=rates), "binary_crossentropy", ["accuracy"], run_eagerly=run_eagerly
    )
    return model


def _wines_network(run_eagerly=False):
    model = Sequential([Dense(8, activation="tanh", input_shape=(13,)), Dense(3)])
    model.add(Activation("softmax"))
    model.compile(
        Adam(learning_rate=0.01),
        "categorical_crossentropy",
        ["accuracy"],
        run_eagerly=run_eagerly,
    )
    return model


def test_fit_on_banknotes_gives_the_autograd_history(monkeypatch):
    x, y = _banknotes()
    kwargs = {"x": x, "y": y, "batch_size": 16, "epochs": 3, "validation_split": 0.2}
    _assert_equal_histories(_banknotes_fleet, kwargs, monkeypatch)


def test_fit_on_wines_gives_the_autograd_history(wines, monkeypatch):
    x, y = wines
    kwargs = {"x": x, "y": y, "batch_size": 16, "epochs": 5, "sample_weight": np.arange(178) % 3}
    _assert_equal_histories(_wines_network, kwargs, monkeypatch)


def test_fit_with_dropout_and_own_rows_gives_the_autograd_history(wines, monkeypatch):
    x, y = wines
    folds = [np.arange(0, 178, 2), np.arange(1, 178, 3)]

    def make(run_eagerly):
        model = Sequential([Dense(8, activation="relu", input_shape=(13,)), Dropout(0.3)])
        model.add(Dense(3, activation="softmax"))
        optimizer = SGD(learning_rate=[0.05, 0.1])
        model.compile(optimizer, "categorical_crossentropy", ["accuracy"], run_eagerly=run_eagerly)
        return model

    kwargs = {"x": x, "y": y, "batch_size": 16, "epochs": 3, "member_rows": folds}
    _assert_equal_histories(make, kwargs, monkeypatch)


def test_fused_fleet_members_equal_separate_runs():
    x, y = _banknotes()
    rates = (0.01, 0.5)
    set_random_seed(5)
    fleet = _banknotes_fleet(rates)
    history = fleet.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    for m, rate in enumerate(rates):
        set_random_seed(5)
        single = _banknotes_fleet((rate,))
        alone = single.fit(x, y, batch_size=16, epochs=2, verbose=0).history
        for key, values in alone.items():
            np.testing.assert_allclose([v[m] for v in history[key]], values, rtol=1e-5)


def test_run_eagerly_trains_through_autograd_and_calls_no_stage(wines, monkeypatch):
    x, y = wines
    stage_calls = []
    dense_stage = Dense.stage
    monkeypatch.setattr(Dense, "stage", lambda *a: stage_calls.append(a) or dense_stage(*a))
    backward, backward_calls = torch.autograd.backward, []
    monkeypatch.setattr(
        torch.autograd, "backward", lambda *a: backward_calls.append(a) or backward(*a)
    )
    _wines_network(run_eagerly=True).fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert not stage_calls and len(backward_calls) == 6  # one per batch of 178 rows
    _wines_network().fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert stage_calls and len(backward_calls) == 6


class _Identity(Layer):
    """A custom layer: it declares no stage."""

    def call(self, inputs, training=False):
        return inputs


def test_a_chain_with_a_layer_without_a_stage_trains_through_autograd_to_the_same_numbers(
    wines, monkeypatch
):
    """The same network with a custom identity layer inside (autograd) and without (fused)."""
    x, y = wines

    def make(custom):
        middle = [_Identity()] if custom else []
        model = Sequential([Dense(8, activation="relu", input_shape=(13,)), *middle])
        model.add(Dense(3, activation="softmax"))
        model.compile(Adam(learning_rate=0.01), "categorical_crossentropy", ["accuracy"])
        return model

    kwargs = {"x": x, "y": y, "batch_size": 16, "epochs": 3}
    autograd_history = _fit(lambda run_eagerly: make(True), kwargs, False, monkeypatch)
    fused_history = _fit(lambda run_eagerly: make(False), kwargs, True, monkeypatch)
    for key, values in fused_history.items():
        np.testing.assert_allclose(autograd_history[key], values, rtol=1e-5, atol=1e-7)
