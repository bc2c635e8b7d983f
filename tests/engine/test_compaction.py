"""Compaction (netfleet.engine.compaction): stopped members leave the batched computation,
and every member's numbers stay those of masking them (`compaction.ENABLED = False`, the
oracle): weights, optimizer state, histories, best weights, checkpoints, BatchNormalization's
moving statistics; the steps really compute only the live members; callbacks always see the
whole model."""

import numpy as np
import pytest
import torch

from netfleet.callbacks import (
    Callback,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    TerminateOnNaN,
)
from netfleet.engine import compaction
from netfleet.fleet import stack, unstack
from netfleet.layers import BatchNormalization, Concatenate, Dense, Dropout, Input, Layer
from netfleet.models import Model, Sequential, load_model
from netfleet.optimizers import SGD, Adam, RMSprop
from netfleet.optimizers.mixed import MixedOptimizer
from netfleet.saving import state
from netfleet.utils import PyDataset, set_random_seed

# Shapes large enough for the BLAS's batched kernel (which pairs members) to run.
ROWS, FEATURES, HIDDEN, CLASSES, BATCH = 64, 13, 10, 3, 16
MEMBERS = 6
RATES = [0.01, 0.05, 0.02, 0.1, 0.03, 0.04]
# epoch -> members stopped at its end: epoch 1 computes members 0, 3, 4 and 1 (in that order,
# 1 masked as the partner of 4), epochs 2 and 3 members 0 and 3.
STOPS = {0: [1, 2, 5], 1: [4]}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, FEATURES)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    return x, y


class StopAt(Callback):
    """Stops members at the end of given epochs, as EarlyStopping would."""

    def __init__(self, stops):
        super().__init__()
        self.stops = stops

    def on_epoch_end(self, epoch, logs=None):
        if epoch in self.stops:
            self.model.stop_members(self.stops[epoch])


def _layers(dropout=0.0, normalization=False, recorder=None):
    layers = [Dense(HIDDEN, activation="relu", input_shape=(FEATURES,))]
    if normalization:
        layers.append(BatchNormalization())
    if dropout:
        layers.append(Dropout(dropout))
    if recorder is not None:
        layers.append(recorder)
    return [*layers, Dense(CLASSES, activation="softmax")]


def _fleet(optimizer=None, run_eagerly=False, **layers):
    """A fleet of `MEMBERS` sharing one seed (one batch order, one dropout stream)."""
    set_random_seed(1)
    model = Sequential(_layers(**layers), seed=5)
    optimizer = optimizer or Adam(learning_rate=RATES)
    model.compile(
        optimizer, "sparse_categorical_crossentropy", ["accuracy"], run_eagerly=run_eagerly
    )
    return model


def _stacked(optimizers, run_eagerly=False, **layers):
    """A fleet stacked from single models with their own seeds and optimizers."""
    singles = []
    for seed, optimizer in enumerate(optimizers):
        set_random_seed(10 + seed)
        model = Sequential(_layers(**layers), seed=20 + seed)
        model.compile(
            optimizer, "sparse_categorical_crossentropy", ["accuracy"], run_eagerly=run_eagerly
        )
        singles.append(model)
    return stack(singles)


def _train(monkeypatch, data, compact, build, epochs=4, stops=STOPS, callbacks=(), **fit):
    monkeypatch.setattr(compaction, "ENABLED", compact)
    model = build()
    x, y = data
    fit = {"batch_size": BATCH, "validation_split": 0.25, **fit}
    history = model.fit(
        x, y, epochs=epochs, verbose=0, callbacks=[StopAt(stops), *callbacks], **fit
    )
    return model, history


def _outcome(model, history):
    """Everything a member's numbers show: weights, optimizer state, history, unstacked models."""
    tensors = state.training_tensors(model)
    return {
        "weights": model.get_weights(),
        "optimizer": {k: v.numpy() for k, v in tensors.items() if k.startswith("optimizer/")},
        "history": history.history,
        "unstacked": [single.get_weights() for single in unstack(model)],
    }


def _assert_same(first, second, state=True):
    for a, b in zip(first["weights"], second["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert first["optimizer"].keys() == second["optimizer"].keys()
    for key, value in first["optimizer"].items() if state else ():
        np.testing.assert_array_equal(value, second["optimizer"][key], err_msg=key)
    assert first["history"].keys() == second["history"].keys()
    for key, values in first["history"].items():
        np.testing.assert_array_equal(
            np.asarray(values), np.asarray(second["history"][key]), err_msg=key
        )
    for a, b in zip(first["unstacked"], second["unstacked"], strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def _compare(monkeypatch, data, build, state=True, **kwargs):
    """Train masked then compacted; assert every number is the same (the optimizer state
    too, if `state`); return both outcomes."""
    masked = _outcome(*_train(monkeypatch, data, False, build, **kwargs))
    compacted = _outcome(*_train(monkeypatch, data, True, build, **kwargs))
    _assert_same(masked, compacted, state)
    return masked, compacted


# -- the same numbers as masking ------------------------------------------------------------
@pytest.mark.parametrize("run_eagerly", [False, True], ids=["fused", "autograd"])
@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: Adam(learning_rate=RATES),
        lambda: SGD(learning_rate=RATES, momentum=0.9, nesterov=True),
        lambda: RMSprop(learning_rate=RATES, clipnorm=[None, 1.0, 0.5, None, 0.1, 2.0]),
    ],
    ids=["adam", "sgd", "rmsprop-clipnorm"],
)
def test_compaction_matches_masking(monkeypatch, data, run_eagerly, optimizer):
    masked, _ = _compare(monkeypatch, data, lambda: _fleet(optimizer(), run_eagerly))
    loss = np.asarray(masked["history"]["val_loss"])
    assert np.isnan(loss[1:, [1, 2, 5]]).all() and np.isnan(loss[2:, 4]).all()
    assert not np.isnan(loss[:, [0, 3]]).any() and not np.isnan(loss[:2, 4]).any()


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["fused", "autograd"])
def test_dropout_streams_continue_as_masked(monkeypatch, data, run_eagerly):
    _compare(monkeypatch, data, lambda: _fleet(run_eagerly=run_eagerly, dropout=0.3))
    optimizers = [Adam(rate) for rate in RATES]
    _compare(monkeypatch, data, lambda: _stacked(optimizers, run_eagerly, dropout=0.3))


def test_streams_of_members_out_of_the_computation_pause(monkeypatch, data):
    build = lambda: _stacked([Adam(0.01)] * MEMBERS, dropout=0.3)
    masked, _ = _train(monkeypatch, data, False, build)
    compacted, _ = _train(monkeypatch, data, True, build)
    for name in ("generators/shuffle", "generators/dropout"):
        a = state.training_tensors(masked)[name]
        b = state.training_tensors(compacted)[name]
        assert torch.equal(a[0], b[0])  # member 0 never stopped
        assert not torch.equal(a[2], b[2])  # member 2 left the computation after epoch 0


def test_per_member_rows_and_validation_rows(monkeypatch, data):
    index = np.arange(ROWS)
    folds = [index[index % MEMBERS != k] for k in range(MEMBERS)]
    held_out = [index[index % MEMBERS == k] for k in range(MEMBERS)]
    optimizers = [Adam(0.01), SGD(0.05), Adam(0.02), SGD(0.1), Adam(0.03), SGD(0.2)]
    _compare(
        monkeypatch,
        data,
        lambda: _stacked(optimizers),
        validation_split=0.0,
        member_rows=folds,
        member_validation_rows=held_out,
    )


def test_mixed_batch_sizes(monkeypatch, data):
    sizes = [16, 10, 24, 16, 8, 12]
    _compare(monkeypatch, data, _fleet, member_batch_sizes=sizes)
    folds = [np.arange(ROWS - 6 * (MEMBERS - 1 - k)) for k in range(MEMBERS)]  # 5 has the most
    _compare(
        monkeypatch, data, _fleet, member_batch_sizes=sizes, member_rows=folds, validation_split=0.0
    )


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["fused", "autograd"])
def test_mixed_optimizer_kinds(monkeypatch, data, run_eagerly):
    optimizers = [
        SGD(0.05, momentum=0.5),
        Adam(0.01),
        RMSprop(0.01),
        Adam(0.02, amsgrad=True),
        SGD(0.1, momentum=0.5),
        SGD(0.02, momentum=0.9),
    ]
    _compare(monkeypatch, data, lambda: _stacked(optimizers, run_eagerly))


def test_members_with_and_without_a_slot_train_as_masked(monkeypatch, data):
    """A member without momentum in an SGD with momentum leaves the others' velocity aside
    once it trains without them: its own weights and history are the same (its velocity,
    which it never reads, is not kept up to date)."""
    optimizer = SGD(learning_rate=RATES, momentum=[0.9, 0.0, 0.5, 0.9, 0.0, 0.5])
    _compare(monkeypatch, data, lambda: _fleet(optimizer), state=False)


def test_batch_normalization_keeps_stopped_members_statistics(monkeypatch, data):
    statistics, models = {}, []

    def keep(epoch, logs):
        layer = models[-1].layers[1]
        statistics[epoch] = (layer.moving_mean.clone(), layer.moving_variance.clone())

    def build():
        models.append(_fleet(normalization=True))
        return models[-1]

    for compact in (False, True):
        _train(monkeypatch, data, compact, build, callbacks=[LambdaCallback(on_epoch_end=keep)])
        for epoch in (1, 2, 3):  # 1 was masked in epoch 1 (the partner of 4), 2 and 5 out
            for now, then in zip(statistics[epoch], statistics[0]):
                assert torch.equal(now[[1, 2, 5]], then[[1, 2, 5]])
                assert not torch.equal(now[0], then[0])
    _compare(monkeypatch, data, lambda: _fleet(normalization=True))


class Batches(PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return ROWS // BATCH

    def __getitem__(self, index):
        rows = slice(index * BATCH, (index + 1) * BATCH)
        return self.x[rows], self.y[rows]


def test_streamed_batches(monkeypatch, data):
    _compare(monkeypatch, (Batches(*data), None), _fleet, batch_size=None, validation_split=0.0)


def test_a_model_with_two_inputs_and_two_outputs(monkeypatch, data):
    x, y = data
    targets = [y, (x[:, :1] > 0).astype("float32")]

    def build():
        set_random_seed(2)
        wide, deep = Input(shape=(4,), name="wide"), Input(shape=(FEATURES - 4,), name="deep")
        hidden = Dense(HIDDEN, activation="relu")(deep)
        classes = Dense(CLASSES, activation="softmax", name="classes")(
            Concatenate()([wide, hidden])
        )
        sign = Dense(1, activation="sigmoid", name="sign")(hidden)
        model = Model([wide, deep], [classes, sign], seed=3)
        model.compile(
            Adam(learning_rate=RATES),
            ["sparse_categorical_crossentropy", "binary_crossentropy"],
            loss_weights=[1.0, 0.5],
        )
        return model

    _compare(monkeypatch, ([x[:, :4], x[:, 4:]], targets), build)


# -- callbacks: best weights, checkpoints, batch hooks --------------------------------------
def test_early_stopping_best_weights_and_checkpoints(monkeypatch, data, tmp_path):
    saved = []
    for compact in (False, True):
        folder = tmp_path / str(compact)
        folder.mkdir()
        callbacks = [
            EarlyStopping(patience=1, min_delta=0.01, restore_best_weights=True),
            ModelCheckpoint(str(folder / "best.nfm"), save_best_only=True),
            ModelCheckpoint(str(folder / "every-{epoch}-{batch}.nfm"), save_freq=2),
        ]
        rates = [0.3, 0.01, 0.5, 0.001, 0.05, 0.002]
        model, history = _train(
            monkeypatch,
            data,
            compact,
            lambda: _fleet(Adam(learning_rate=rates)),  # noqa: B023
            epochs=8,
            stops={},
            callbacks=callbacks,
        )
        saved.append((_outcome(model, history), folder, callbacks[0].stopped_epochs))
    (masked, masked_folder, stopped), (compacted, compacted_folder, _) = saved
    _assert_same(masked, compacted)
    assert len(set(stopped.tolist())) > 1  # members stopped early, at different epochs
    files = sorted(path.name for path in masked_folder.iterdir())
    assert files == sorted(path.name for path in compacted_folder.iterdir())
    for name in files:
        a, b = load_model(masked_folder / name), load_model(compacted_folder / name)
        for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(x, y, err_msg=name)
        for key, value in state.training_tensors(a).items():
            if key.startswith("optimizer/"):
                np.testing.assert_array_equal(value, state.training_tensors(b)[key])


def test_batch_hooks_stop_members_and_set_learning_rates(monkeypatch, data):
    def on_batch_begin(batch, logs):
        if batch == 2:
            rates = [0.02, 0.04, 0.03, 0.05, 0.01, 0.06 + 0.01 * epochs[-1]]
            models[-1].optimizer.learning_rate.assign(rates)

    def on_batch_end(batch, logs):
        if epochs[-1] == 1 and batch == 1:
            models[-1].stop_members([3])  # mid-epoch: masked until the epoch ends
        seen.append(np.isnan(logs["loss"]).tolist())

    models, seen, epochs = [], [], []

    def build():
        models.append(_fleet())
        seen.clear()
        return models[-1]

    hooks = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epochs.append(epoch),
        on_batch_begin=on_batch_begin,
        on_batch_end=on_batch_end,
    )
    _compare(monkeypatch, data, build, callbacks=[hooks, TerminateOnNaN()], stops={0: [1, 2, 5]})
    steps = ROWS * 3 // 4 // BATCH  # validation_split holds out a quarter
    after_first = [False, True, True, False, False, True]
    after_second = [False, True, True, True, False, True]
    assert seen == [[False] * MEMBERS] * steps + [after_first] * steps + [after_second] * 2 * steps


# -- the computation really shrinks ---------------------------------------------------------
class Recorder(Layer):
    """Passes its input through, recording how many members each training call computes."""

    member_axis = True  # written for (M, batch, ...) tensors, not lifted member by member

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.members = []

    def call(self, inputs, training=False):
        if training:
            self.members.append(inputs.shape[0])
        return inputs


@pytest.mark.parametrize("compact", [True, False])
def test_steps_compute_only_live_members_and_their_partners(monkeypatch, data, compact):
    updated = []
    update = Adam.update

    def recording_update(self, param, grad, step):
        updated.append(param.shape[0])
        update(self, param, grad, step)

    monkeypatch.setattr(Adam, "update", recording_update)
    recorder = Recorder()
    _train(monkeypatch, data, compact, lambda: _fleet(recorder=recorder), validation_split=0.0)
    steps = ROWS // BATCH
    computed = [6] * steps + [4] * steps + [2] * 2 * steps if compact else [6] * 4 * steps
    assert updated == computed
    assert recorder.members == computed


@pytest.mark.parametrize(
    ("live", "members", "computed"),
    [
        ([0, 1], 6, [0, 1]),
        ([0, 3], 6, [0, 3]),
        ([1, 3], 4, [0, 1, 2, 3]),  # stopped members 0 and 2 fill the even places
        ([7, 8, 9, 10], 16, [8, 7, 10, 9]),
        ([4], 5, [0, 1, 4]),  # the last member of an odd fleet stays last, never alone
        ([2, 4], 5, [2, 0, 4]),
        ([1, 4], 5, [0, 1, 4]),
        ([0], 5, [0, 1]),
    ],
)
def test_live_members_keep_the_parity_of_their_places(live, members, computed):
    assert compaction.places(live, members) == computed


def test_optimizer_state_goes_into_a_working_set_and_back():
    """A step of the working set's optimizer, scattered back, equals the masked step."""
    torch.manual_seed(0)
    gradients, start = torch.randn(4, 5, 7), torch.randn(5, 7)

    def trained():
        weights = start.clone()
        optimizer = MixedOptimizer([(SGD(0.1, momentum=0.9), 2), (Adam([0.01, 0.02, 0.03]), 3)])
        optimizer.build(weights)
        for gradient in gradients[:3]:
            optimizer.apply(weights, gradient)
        return optimizer, weights

    rows = torch.tensor([2, 1, 4])  # runs of rows of one part: Adam, SGD, Adam
    masked, masked_weights = trained()
    active = torch.zeros(5, dtype=torch.bool)
    active[rows] = True
    masked.apply(masked_weights, gradients[3], active)
    full, weights = trained()
    part_weights = weights[rows]
    part = full.select_members(rows, part_weights)
    assert [type(piece).__name__ for piece, _ in part.parts] == ["Adam", "SGD", "Adam"]
    assert torch.equal(part.iterations, full.iterations[rows])
    part.apply(part_weights, gradients[3][rows])
    full.scatter_members(part, rows)
    weights[rows] = part_weights
    assert torch.equal(weights, masked_weights)
    assert torch.equal(full.iterations, masked.iterations)
    for name, slot in masked.slots.items():
        assert torch.equal(full.slots[name], slot), name


def test_callbacks_see_the_whole_model(monkeypatch, data):
    members = []

    def look(*args):
        model = models[-1]
        assert model.current_parameter_store() is not None
        members.append({weight.shape[0] for weight in model.get_weights()})

    models = []

    def build():
        models.append(_fleet(normalization=True))
        return models[-1]

    hooks = LambdaCallback(on_epoch_end=look, on_batch_end=look, on_batch_begin=look)
    model, history = _train(monkeypatch, data, True, build, callbacks=[hooks])
    assert members and all(count == {MEMBERS} for count in members)
    assert np.asarray(history.history["loss"]).shape == (4, MEMBERS)
    assert all(weight.shape[0] == MEMBERS for weight in model.get_weights())


class FailsWhenCompact(Layer):
    """Passes its input through, failing when a training call computes fewer members."""

    member_axis = True

    def call(self, inputs, training=False):
        if training and inputs.shape[0] < MEMBERS:
            raise RuntimeError("a failing step")
        return inputs


class FailsInBatchHook(Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if len(self.model.active_members) < MEMBERS and batch == 1:
            raise KeyboardInterrupt


@pytest.mark.parametrize("where", ["step", "batch hook"])
def test_the_model_is_whole_again_after_an_error(monkeypatch, data, where):
    monkeypatch.setattr(compaction, "ENABLED", True)
    layer = FailsWhenCompact() if where == "step" else None
    model = _fleet(normalization=True, recorder=layer)
    callbacks = [StopAt(STOPS)] + ([FailsInBatchHook()] if where == "batch hook" else [])
    x, y = data
    with pytest.raises(RuntimeError if where == "step" else KeyboardInterrupt):
        model.fit(x, y, epochs=3, verbose=0, callbacks=callbacks)
    assert model.current_parameter_store() is not None
    assert all(weight.shape[0] == MEMBERS for weight in model.get_weights())
    if where == "batch hook":
        model.fit(x, y, epochs=1, verbose=0)  # trains on, every member again
