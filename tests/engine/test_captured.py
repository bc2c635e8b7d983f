"""Captured steps (netfleet.engine.captured): on a GPU the fused training step with fixed
shapes is replayed from a CUDA graph and gives the eager step's numbers bit for bit
(`compile(jit_compile=False)`, the oracle); on the CPU every value of `jit_compile` trains
eagerly. The CUDA tests run where PyTorch sees a GPU and are skipped elsewhere."""

import numpy as np
import pytest
import torch

from netfleet import config
from netfleet.callbacks import LambdaCallback
from netfleet.engine import captured
from netfleet.layers import Dense, Dropout
from netfleet.models import Sequential
from netfleet.optimizers import SGD, Adam
from netfleet.saving import state
from netfleet.utils import set_random_seed

ROWS, FEATURES, CLASSES, BATCH = 100, 6, 3, 16  # 100 rows: a smaller last batch each epoch
RATES = [0.001, 0.003, 0.01, 0.03]
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(ROWS, FEATURES)).astype("float32")
    y = np.eye(CLASSES, dtype="float32")[(x[:, 0] > 0).astype(int) + (x[:, 1] > 1)]
    return x, y


def _fleet(jit_compile, dropout=0.0, seeds=None, optimizer=None):
    set_random_seed(5)
    layers = [Dense(16, activation="relu", input_shape=(FEATURES,))]
    if dropout:
        layers.append(Dropout(dropout))
    model = Sequential([*layers, Dense(CLASSES, activation="softmax")], seed=11)
    model.compile(
        optimizer or Adam(learning_rate=RATES),
        "categorical_crossentropy",
        ["accuracy"],
        jit_compile=jit_compile,
    )
    if seeds is not None:
        model.set_members(len(RATES), seeds=seeds)
    return model


def _run(data, jit_compile, epochs=3, callbacks=(), **options):
    model = _fleet(jit_compile, **options)
    history = model.fit(
        *data,
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        validation_split=0.2,
        callbacks=list(callbacks),
    )
    return model, history


def _assert_same(run_a, run_b):
    (model_a, history_a), (model_b, history_b) = run_a, run_b
    for a, b in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(a, b)
    tensors_a, tensors_b = state.training_tensors(model_a), state.training_tensors(model_b)
    for key in tensors_a:
        assert torch.equal(tensors_a[key], tensors_b[key]), key
    for key in history_a.history:
        np.testing.assert_array_equal(
            np.asarray(history_a.history[key]), np.asarray(history_b.history[key])
        )


@pytest.fixture
def replays(monkeypatch):
    """How many steps replayed a graph."""
    count = []
    replay = torch.cuda.CUDAGraph.replay

    def counting(graph):
        count.append(1)
        replay(graph)

    monkeypatch.setattr(torch.cuda.CUDAGraph, "replay", counting)
    return count


# -- on the CPU ----------------------------------------------------------------------------------
def test_capture_is_only_tried_for_the_fused_step_on_a_gpu():
    gpu, cpu = torch.device("cuda", 0), torch.device("cpu")
    assert captured.wanted("auto", gpu, fused=True, arrays=True)
    assert captured.wanted(True, gpu, fused=True, arrays=True)
    assert not captured.wanted(False, gpu, fused=True, arrays=True)
    assert not captured.wanted("auto", cpu, fused=True, arrays=True)
    assert not captured.wanted("auto", gpu, fused=False, arrays=True)  # autograd
    assert not captured.wanted("auto", gpu, fused=True, arrays=False)  # a stream


def test_every_jit_compile_value_trains_eagerly_on_the_cpu(monkeypatch, data):
    def refuse(*args, **kwargs):
        raise AssertionError("a CUDA graph on the CPU")

    monkeypatch.setattr(captured, "CapturedStep", refuse)
    with config.device_scope("cpu"):
        runs = [_run(data, value, epochs=2) for value in (False, True, "auto")]
    _assert_same(runs[0], runs[1])
    _assert_same(runs[0], runs[2])


def test_a_graph_is_captured_again_when_a_hyperparameter_is_set(data):
    model = _fleet(False)
    model.fit(*data, batch_size=BATCH, epochs=1, verbose=0)
    work = type("Work", (), {})()
    work.store, work.optimizer = model.current_parameter_store(), model.optimizer
    key = captured._key(work)
    assert captured._key(work) == key  # nothing changed
    model.optimizer.learning_rate.assign([0.5 * rate for rate in RATES])
    assert captured._key(work) != key


def test_a_captured_steps_additions_reach_each_slices_accumulator():
    class Totals:
        def __init__(self):
            self.added = []

        def add(self, *args, **kwargs):
            self.added.append((args, kwargs))

    whole = type("Sliced", (), {"parts": [Totals(), Totals()]})()
    recorded = captured._Recorded(whole)
    recorded.parts[1].add(torch.ones(2), activation=None)
    recorded.add_to(whole)
    recorded.add_to(whole)  # each replay adds again
    assert [len(part.added) for part in whole.parts] == [0, 2]


# -- on a GPU ------------------------------------------------------------------------------------
@cuda
def test_a_captured_step_gives_the_eager_steps_numbers(data, replays):
    config.set_device("cuda")
    try:
        eager = _run(data, False)
        assert not replays
        _assert_same(eager, _run(data, "auto"))
        assert replays  # the full batches replayed a graph
    finally:
        config.set_device("auto")


@cuda
def test_captured_steps_of_members_with_their_own_batches_match_eager(data, replays):
    config.set_device("cuda")
    try:
        seeds = [1, 2, 3, 4]  # one batch order each: indices (M, B)
        _assert_same(_run(data, False, seeds=seeds), _run(data, True, seeds=seeds))
        assert replays
    finally:
        config.set_device("auto")


@cuda
def test_captured_steps_with_batch_hooks_and_a_new_learning_rate_match_eager(data, replays):
    def callbacks(losses):
        def new_rate(epoch, logs):
            rates = [rate * 0.5 ** (epoch + 1) for rate in RATES]
            hooks.model.optimizer.learning_rate.assign(rates)

        hooks = LambdaCallback(
            on_batch_end=lambda batch, logs: losses.append(logs["loss"]), on_epoch_end=new_rate
        )
        return [hooks]

    config.set_device("cuda")
    try:
        losses_a, losses_b = [], []
        eager = _run(data, False, callbacks=callbacks(losses_a))
        replayed = _run(data, True, callbacks=callbacks(losses_b))
        _assert_same(eager, replayed)
        np.testing.assert_array_equal(np.asarray(losses_a), np.asarray(losses_b))
        assert replays
    finally:
        config.set_device("auto")


@cuda
def test_a_step_that_draws_dropout_masks_stays_eager(data, replays):
    config.set_device("cuda")
    try:
        _assert_same(_run(data, False, dropout=0.3), _run(data, True, dropout=0.3))
        assert not replays
    finally:
        config.set_device("auto")


@cuda
def test_a_captured_step_in_member_slices_matches_the_eager_whole_fleet(data, replays):
    config.set_device("cuda")
    try:
        model = _fleet(True, optimizer=SGD(learning_rate=RATES, momentum=0.9))
        history = model.fit(*data, batch_size=BATCH, epochs=3, verbose=0, member_chunk_size=3)
        whole = _fleet(False, optimizer=SGD(learning_rate=RATES, momentum=0.9))
        expected = whole.fit(*data, batch_size=BATCH, epochs=3, verbose=0)
        _assert_same((whole, expected), (model, history))
        assert replays
    finally:
        config.set_device("auto")
