"""The fast paths of the convolutions and window poolings (`ConvStage`, `PoolingStage`) train
as autograd does: same logs and weights to float rounding, for every padding, stride,
dilation and activation, for a single model and for fleets whose members share a batch or
draw their own."""

import numpy as np
import pytest

import netfleet as nf
from netfleet import layers
from netfleet.fleet import stack
from netfleet.layers import convolutional, pooling
from netfleet.optimizers import SGD

CONVOLUTIONS = {
    "valid relu": (layers.Conv2D, {"filters": 3, "kernel_size": 3, "activation": "relu"}),
    "same odd kernel tanh": (
        layers.Conv2D,
        {"filters": 3, "kernel_size": 3, "padding": "same", "activation": "tanh"},
    ),
    "same even kernel, strides": (
        layers.Conv2D,
        {"filters": 2, "kernel_size": (2, 3), "strides": 2, "padding": "same"},
    ),
    "dilated sigmoid, no bias": (
        layers.Conv2D,
        {
            "filters": 2,
            "kernel_size": 2,
            "dilation_rate": 2,
            "activation": "sigmoid",
            "use_bias": False,
        },
    ),
    "1d causal": (layers.Conv1D, {"filters": 3, "kernel_size": 3, "padding": "causal"}),
    "1d same even kernel relu": (
        layers.Conv1D,
        {"filters": 2, "kernel_size": 2, "padding": "same", "activation": "relu"},
    ),
}
POOLINGS = {
    "max valid": (layers.MaxPooling2D, {}),
    "max same": (layers.MaxPooling2D, {"pool_size": 3, "strides": 2, "padding": "same"}),
    "average valid": (layers.AveragePooling2D, {"pool_size": (2, 1)}),
    "1d max same": (layers.MaxPooling1D, {"pool_size": 2, "padding": "same"}),
    "1d average valid": (layers.AveragePooling1D, {"pool_size": 3, "strides": 1}),
}


@pytest.fixture(autouse=True)
def _fresh_session():
    nf.backend.clear_session()


def build(conv, pool, seed=1, rank=2):
    """A chain with a convolution before the tested ones, so that the tested convolution
    computes the gradient of its input."""
    shape = (7, 7, 2) if rank == 2 else (9, 2)
    first = layers.Conv2D(2, 1) if rank == 2 else layers.Conv1D(2, 1)
    (conv_class, conv_args), (pool_class, pool_args) = conv, pool
    return nf.Sequential(
        [
            nf.Input(shape=shape),
            first,
            conv_class(**conv_args),
            pool_class(**pool_args),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ],
        seed=seed,
    )


def data(rank):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 7, 7, 2) if rank == 2 else (40, 9, 2)).astype(np.float32)
    return x, rng.integers(0, 3, 40)


def compiled(make, learning_rate=0.1):
    """`make(run_eagerly)`: the model of `make()`, compiled with SGD and momentum."""

    def make_compiled(run_eagerly):
        model = make()
        optimizer = SGD(learning_rate=learning_rate, momentum=0.5)
        model.compile(optimizer, "sparse_categorical_crossentropy", run_eagerly=run_eagerly)
        return model

    return make_compiled


def fit_both(make, rank):
    """Train the model `make(run_eagerly)` builds through the stages and through autograd;
    the stages must run."""
    x, y = data(rank)
    calls = []
    with pytest.MonkeyPatch.context() as patch:
        for stage in (convolutional.ConvStage, pooling.PoolingStage):
            patch.setattr(stage, "backward", _recording(stage.backward, calls))
        nf.utils.set_random_seed(4)
        fast = make(False)
        fast_history = fast.fit(x, y, batch_size=8, epochs=2, verbose=0)
        assert len(calls) >= 2 * 5 * 3, "fit did not train through the convolution stages"
        calls.clear()
        nf.utils.set_random_seed(4)
        eager = make(True)
        eager_history = eager.fit(x, y, batch_size=8, epochs=2, verbose=0)
        assert not calls, "compile(run_eagerly=True) still trained through the stages"
    for key, values in eager_history.history.items():
        np.testing.assert_allclose(fast_history.history[key], values, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(fast.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def _recording(backward, calls):
    def recording(stage, grad):
        calls.append(type(stage).__name__)
        return backward(stage, grad)

    return recording


@pytest.mark.parametrize("conv", CONVOLUTIONS, ids=str)
def test_a_convolution_stage_trains_as_autograd(conv):
    conv_class, _ = CONVOLUTIONS[conv]
    rank = 1 if conv_class is layers.Conv1D else 2
    pool = POOLINGS["max valid"] if rank == 2 else POOLINGS["1d max same"]
    fit_both(compiled(lambda: build(CONVOLUTIONS[conv], pool, rank=rank)), rank)


@pytest.mark.parametrize("pool", POOLINGS, ids=str)
def test_a_pooling_stage_trains_as_autograd(pool):
    pool_class, _ = POOLINGS[pool]
    rank = 1 if pool_class in (layers.MaxPooling1D, layers.AveragePooling1D) else 2
    conv = CONVOLUTIONS["valid relu"] if rank == 2 else CONVOLUTIONS["1d causal"]
    fit_both(compiled(lambda: build(conv, POOLINGS[pool], rank=rank)), rank)


def test_a_fleet_sharing_its_batches_trains_as_autograd():
    conv, pool = CONVOLUTIONS["same odd kernel tanh"], POOLINGS["max same"]
    fit_both(compiled(lambda: build(conv, pool), learning_rate=[0.05, 0.1, 0.2]), 2)


def test_a_fleet_of_members_with_their_own_batches_trains_as_autograd():
    conv, pool = CONVOLUTIONS["valid relu"], POOLINGS["average valid"]

    def make(run_eagerly):
        members = [build(conv, pool, seed=seed) for seed in (1, 2)]
        for rate, model in zip((0.05, 0.1), members):
            loss = "sparse_categorical_crossentropy"
            model.compile(SGD(learning_rate=rate), loss, run_eagerly=run_eagerly)
        fleet = stack(members)
        assert fleet.member_seeds == [1, 2]
        return fleet

    fit_both(make, 2)


def test_a_same_average_pooling_has_no_stage():
    layer = layers.AveragePooling2D(padding="same")
    assert layer.stage(first=False, logits=False) is None
