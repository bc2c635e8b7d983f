"""Tiny data and small compiled models that try one registered entry, so that every check
trains it the same way: a few rows, two epochs, batches of eight."""

import dataclasses

import numpy as np

from netfleet import Input, Model, Sequential
from netfleet.layers import Dense, Flatten, InputLayer
from netfleet.optimizers import SGD
from netfleet.utils import set_random_seed

from . import specs

ROWS, BATCH_SIZE, EPOCHS = 24, 8, 2


@dataclasses.dataclass(frozen=True)
class Task:
    """A learning problem: the output head and the loss that fits its labels."""

    units: int
    activation: str
    loss: str


TASKS = {
    "binary": Task(1, "sigmoid", "binary_crossentropy"),
    "categorical": Task(3, "softmax", "categorical_crossentropy"),
    "sparse": Task(3, "softmax", "sparse_categorical_crossentropy"),
    "regression": Task(1, "linear", "mean_squared_error"),
}


def data(task, example_shape, inputs="values"):
    """`(x, y)`: ROWS examples of `example_shape` (normal values, or integer indices in
    [0, 10)) and labels of the kind `task` reads."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, *example_shape)).astype("float32")
    if inputs == "indices":
        x = rng.integers(0, 10, size=(ROWS, *example_shape)).astype("float32")
    score = x.reshape(ROWS, -1) @ np.linspace(-1.0, 1.0, int(np.prod(example_shape)))
    classes = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    labels = {
        "binary": (score > 0).astype("float32").reshape(-1, 1),
        "categorical": np.eye(3, dtype="float32")[classes],
        "sparse": classes.astype("int64"),
        "regression": score.astype("float32").reshape(-1, 1),
    }
    return x, labels[task]


@dataclasses.dataclass
class Trial:
    """A compiled model that uses one entry, its data, and its callbacks (callback entries)."""

    model: object
    x: np.ndarray
    y: np.ndarray
    callbacks: list

    def fit(self, epochs=EPOCHS, callbacks=True):
        return self.model.fit(
            self.x,
            self.y,
            batch_size=BATCH_SIZE,
            epochs=epochs,
            verbose=0,
            callbacks=self.callbacks if callbacks else None,
        )


def trial(kind, name, obj, folder, seed=0, optimizer=None, run_eagerly=False):
    """A compiled model trying entry `name` of `kind` (`obj`), its weights drawn from `seed`.

    A layer sits after a hidden Dense layer (so that something trainable comes before it),
    right after the input, or on two Dense branches, as its row's `wiring` says; a Flatten
    layer then feeds the task's head. An activation is the hidden layer's, an initializer
    its kernel's; a loss, a metric or an optimizer is compiled in; a callback is passed to
    `fit`; a model entry is the model.

    Args:
        folder: A scratch folder for the entry's files (a callback's log, a checkpoint).
        optimizer: The optimizer, when the entry is not one. Defaults to plain SGD.
        run_eagerly: Compile with `run_eagerly=True` (train through autograd).
    """
    row = specs.spec(kind, name)
    folder.mkdir(parents=True, exist_ok=True)
    task = TASKS[row.task]
    set_random_seed(seed)
    built = specs.instance(kind, name, folder) if specs.is_class(obj) else None
    if kind == "model":
        model = built
    elif kind == "layer" and row.wiring == "merge":
        model = _merge_model(built, task, row.example_shape, seed)
    else:
        model = Sequential(_layers(kind, name, built, task, row), seed=seed)
    if kind == "optimizer" and optimizer is None:
        optimizer = built
    compile_options = {"run_eagerly": True} if run_eagerly else {}
    model.compile(
        optimizer=optimizer or SGD(learning_rate=0.1),
        loss=name if kind == "loss" else task.loss,
        metrics=[name] if kind == "metric" else [],
        **compile_options,
    )
    x, y = data(row.task, row.example_shape, row.inputs)
    return Trial(model, x, y, [built] if kind == "callback" else [])


def _layers(kind, name, built, task, row):
    head = Dense(task.units, activation=task.activation)
    if kind == "layer" and isinstance(built, InputLayer):
        return [built, Dense(4, activation="tanh"), head]
    if kind == "layer" and row.wiring == "first":
        return [InputLayer(shape=row.example_shape), built, Flatten(), head]
    hidden = {"activation": "tanh"}
    if kind == "activation":
        hidden = {"activation": name}
    if kind == "initializer":
        hidden = {"activation": "tanh", "kernel_initializer": built}
    stack = [InputLayer(shape=row.example_shape), Dense(4, **hidden)]
    if kind == "layer":
        stack += [built, Flatten()]
    return [*stack, head]


def _merge_model(layer, task, example_shape, seed):
    inputs = Input(shape=example_shape)
    branches = [Dense(4, activation=fn)(inputs) for fn in ("tanh", "relu")]
    head = Dense(task.units, activation=task.activation)
    return Model(inputs, head(Flatten()(layer(branches))), seed=seed)


def assert_same_training(history, model, reference_history, reference_model, member=None):
    """The same logs per epoch and the same weights, to float rounding; `member` picks one
    member of a fleet `history`/`model`."""
    if member is not None:
        history = history.member(member)
    assert history.epoch == reference_history.epoch
    assert sorted(history.history) == sorted(reference_history.history)
    for key, values in reference_history.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-4, atol=1e-6, err_msg=key)
    weights = model.get_weights()
    reference = reference_model.get_weights()
    assert len(weights) == len(reference)
    for mine, theirs in zip(weights, reference):
        mine = mine if member is None else mine[member]
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
