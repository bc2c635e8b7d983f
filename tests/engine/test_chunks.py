"""Large fleets (netfleet.engine.memory, netfleet.engine.chunks): the memory estimate from the
layer shapes, and a fleet computed one slice of members after another trains, evaluates and
predicts exactly as the whole fleet at once (the oracle): weights, optimizer state,
histories, callbacks' per-member decisions, dropout masks, BatchNormalization statistics."""

import numpy as np
import pytest
import torch

from netfleet.callbacks import EarlyStopping, LambdaCallback
from netfleet.engine import chunks, memory, training
from netfleet.errors import InvalidArgumentError
from netfleet.layers import BatchNormalization, Dense, Dropout, Input
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD, Adam
from netfleet.saving import state
from netfleet.utils import set_random_seed

ROWS, FEATURES, CLASSES, BATCH = 60, 6, 3, 16
RATES = [0.01, 0.02, 0.05, 0.1, 0.2]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, FEATURES)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    return x, y


def _fleet(dropout=0.0, normalization=False, seeds=None, run_eagerly=False, optimizer=None):
    set_random_seed(3)
    layers = [Dense(12, activation="relu", input_shape=(FEATURES,))]
    if normalization:
        layers.append(BatchNormalization())
    if dropout:
        layers.append(Dropout(dropout))
    model = Sequential([*layers, Dense(CLASSES, activation="softmax")], seed=7)
    model.compile(
        optimizer or Adam(learning_rate=RATES),
        "sparse_categorical_crossentropy",
        ["accuracy"],
        run_eagerly=run_eagerly,
    )
    if seeds is not None:
        model.set_members(len(RATES), seeds=seeds)
    return model


def _two_outputs():
    set_random_seed(4)
    inputs = Input((FEATURES,))
    hidden = Dense(8, activation="tanh")(inputs)
    classes = Dense(CLASSES, activation="softmax", name="classes")(hidden)
    value = Dense(1, name="value")(hidden)
    model = Model(inputs, [classes, value], seed=9)
    model.compile(
        SGD(learning_rate=RATES, momentum=0.9),
        ["sparse_categorical_crossentropy", "mse"],
        metrics=[["accuracy"], []],
        loss_weights=[1.0, 0.5],
    )
    return model


def _trained(build, data, chunk_size, fit=None, callbacks=()):
    x, y = data
    model = build()
    targets = [y, x[:, :1]] if len(model.output_names) > 1 else y
    settings = {"batch_size": BATCH, "epochs": 4, "verbose": 0, "validation_split": 0.2}
    settings.update(fit or {})
    history = model.fit(
        x, targets, callbacks=list(callbacks), member_chunk_size=chunk_size, **settings
    )
    return model, history


def _assert_same_run(whole, sliced, data):
    (model_a, history_a), (model_b, history_b) = whole, sliced
    for a, b in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(a, b)
    tensors_a, tensors_b = state.training_tensors(model_a), state.training_tensors(model_b)
    assert tensors_a.keys() == tensors_b.keys()
    for key in tensors_a:
        assert torch.equal(tensors_a[key], tensors_b[key]), key
    assert history_a.history.keys() == history_b.history.keys()
    for key in history_a.history:
        np.testing.assert_array_equal(
            np.asarray(history_a.history[key]), np.asarray(history_b.history[key])
        )
    x, _ = data
    predictions_a, predictions_b = model_a.predict(x, verbose=0), model_b.predict(x, verbose=0)
    if not isinstance(predictions_a, list):  # one output
        predictions_a, predictions_b = [predictions_a], [predictions_b]
    for a, b in zip(predictions_a, predictions_b):
        np.testing.assert_array_equal(a, b)


CASES = {
    "fused, shared batches": (lambda: _fleet(), {}),
    "dropout, one seed": (lambda: _fleet(dropout=0.3), {}),
    "dropout, seeds shared across slices": (lambda: _fleet(0.3, seeds=[1, 2, 1, 3, 2]), {}),
    "dropout, a seed each": (lambda: _fleet(0.3, seeds=[1, 2, 3, 4, 5]), {}),
    "autograd, seeds shared across slices": (
        lambda: _fleet(0.3, seeds=[1, 2, 1, 3, 2], run_eagerly=True),
        {},
    ),
    "batch normalization": (lambda: _fleet(normalization=True), {}),
    "own rows and batch sizes (padded)": (
        lambda: _fleet(seeds=[1, 2, 3, 4, 5]),
        {
            "member_rows": [np.arange(ROWS)[m : ROWS - m] for m in range(len(RATES))],
            "member_batch_sizes": [16, 8, 16, 12, 16],
            "validation_split": 0.0,
        },
    ),
    "two outputs": (_two_outputs, {}),
}


@pytest.mark.parametrize("chunk_size", [1, 2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_a_fleet_in_slices_trains_exactly_as_the_whole_fleet(data, case, chunk_size):
    build, fit = CASES[case]
    whole = _trained(build, data, None, fit)
    sliced = _trained(build, data, chunk_size, fit)
    _assert_same_run(whole, sliced, data)


def test_early_stopping_decides_the_same_for_each_member_in_slices(data):
    def run(chunk_size):
        stopping = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
        build = lambda: _fleet(
            dropout=0.2, optimizer=Adam(learning_rate=[0.3, 0.01, 0.5, 0.02, 1.0])
        )
        run = _trained(build, data, chunk_size, {"epochs": 8}, [stopping])
        return run, stopping

    (whole, stopping_a), (sliced, stopping_b) = run(None), run(2)
    assert stopping_a.stopped_epochs.any()  # some members stopped, the run went on
    np.testing.assert_array_equal(stopping_a.stopped_epochs, stopping_b.stopped_epochs)
    np.testing.assert_array_equal(stopping_a.best_epochs, stopping_b.best_epochs)
    _assert_same_run(whole, sliced, data)


def test_batch_hooks_see_every_member_of_a_fleet_in_slices(data):
    seen = []
    hook = LambdaCallback(on_batch_end=lambda batch, logs: seen.append(logs["loss"]))
    _trained(lambda: _fleet(), data, 2, {"epochs": 1}, [hook])
    assert seen and all(np.shape(loss) == (len(RATES),) for loss in seen)


def test_evaluate_and_predict_in_slices_equal_the_whole_fleet(monkeypatch, data):
    x, y = data
    model, _ = _trained(lambda: _fleet(normalization=True), data, None)
    expected = model.evaluate(x, y, verbose=0), model.predict(x, verbose=0)
    calls = []

    def two_at_a_time(model, batch_size, device):
        calls.append(batch_size)
        return 2

    monkeypatch.setattr(memory, "inference_chunk", two_at_a_time)
    sliced = model.evaluate(x, y, verbose=0), model.predict(x, verbose=0)
    assert len(calls) == 2
    for a, b in zip(expected[0], sliced[0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(expected[1], sliced[1])


def test_a_fleet_that_outgrows_the_memory_trains_in_slices_by_itself(monkeypatch, data):
    whole = _trained(lambda: _fleet(), data, None)
    model = _fleet()
    slots = memory.slots_per_weight(model.compiled.optimizer, torch.zeros(1))
    needs = memory.estimate(model, BATCH, slots)
    room = len(RATES) * needs.state_bytes + 2 * needs.activation_bytes  # two members at once
    sizes = []
    build = chunks.Chunks.for_training

    def recording(model, store, size):
        sizes.append(size)
        return build(model, store, size)

    with monkeypatch.context() as patch:
        patch.setattr(memory, "available_bytes", lambda device: room)
        patch.setattr(memory, "_resident_bytes", lambda store, optimizer, device: 0)
        patch.setattr(chunks.Chunks, "for_training", recording)
        sliced = _trained(lambda: _fleet(), data, None)
    assert sizes and set(sizes) == {2}
    _assert_same_run(whole, sliced, data)


def test_a_fleet_whose_state_does_not_fit_is_refused_before_training(monkeypatch, data):
    model = _fleet()
    before = model.get_weights()
    monkeypatch.setattr(memory, "available_bytes", lambda device: 1000)
    with pytest.raises(InvalidArgumentError, match="does not fit the device"):
        model.fit(*data, batch_size=BATCH, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2"])
def test_member_chunk_size_must_be_a_positive_int(data, bad):
    with pytest.raises(InvalidArgumentError, match="'member_chunk_size' argument of fit"):
        training.fit(_fleet(), *data, member_chunk_size=bad, verbose=0)


def test_the_estimate_counts_weights_state_and_activations_from_the_layer_shapes():
    model = Sequential([Dense(32, input_shape=(784,)), Dense(10), BatchNormalization()])
    trainable, other = memory.weight_counts(model)
    assert (trainable, other) == (784 * 32 + 32 + 32 * 10 + 10 + 2 * 10, 2 * 10)
    assert memory.activation_count(model) == 784 + 32 + 10 + 10
    needs = memory.estimate(model, batch_size=64, slots_per_weight=2)
    floats = memory.FLOAT_BYTES
    assert needs.state_bytes == (trainable * (2 + 2 + memory.UPDATE_TEMPORARIES) + other) * floats
    assert needs.activation_bytes == 836 * 64 * memory.TRAINING_COPIES * floats
    forward = memory.estimate(model, batch_size=64, slots_per_weight=2, training=False)
    assert forward.state_bytes == (trainable + other) * floats


@pytest.mark.parametrize(
    ("optimizer", "slots"),
    [(SGD(), 0), (SGD(momentum=0.9), 1), (Adam(), 2), (Adam(amsgrad=True), 3)],
)
def test_the_estimate_reads_how_many_slots_the_optimizer_keeps(optimizer, slots):
    assert memory.slots_per_weight(optimizer, torch.zeros(1)) == slots


def test_members_per_chunk_fits_the_activations_beside_every_members_state():
    needs = memory.Needs(state_bytes=100, activation_bytes=50)
    assert memory.members_per_chunk(8, needs, 8 * 100 + 8 * 50) is None  # all fit
    assert memory.members_per_chunk(8, needs, 8 * 100 + 3 * 50 + 49) == 3
    assert memory.members_per_chunk(8, needs, 3 * 50, resident_bytes=8 * 100) == 3
    assert memory.members_per_chunk(8, needs, None) is None  # no limit known
    with pytest.raises(InvalidArgumentError, match="does not fit the device"):
        memory.members_per_chunk(8, needs, 8 * 100 + 49)
