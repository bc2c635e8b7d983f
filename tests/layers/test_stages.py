"""Tests for netfleet.layers.stages and the `Layer.stage` protocol: each core layer's fast
path against autograd through the layer's own `call` (the oracle), and which layers declare
one."""

import pytest
import torch

from netfleet import activations
from netfleet.engine.parameters import ParameterStore
from netfleet.layers import Activation, Dense, Dropout, Flatten, Layer
from netfleet.ops.context import ForwardContext, forward_context


def _packed(layer, members, input_shape):
    """`layer` built for `input_shape`, its weights random views of a flat buffer."""
    layer.ensure_built(input_shape)
    store = ParameterStore([layer], members)
    store.data.copy_(torch.randn(store.data.shape, generator=torch.Generator().manual_seed(0)))
    return store


def _context(seed=0, members=1):
    generators = [torch.Generator().manual_seed(seed + m) for m in range(members)]
    return forward_context(ForwardContext(True, generators))


def _assert_stage_equals_autograd(layer, store, x, first=False, logits=False):
    """The stage's output, weight gradients and input gradient equal autograd's through
    `layer.call` (through `pre_activation` when `logits`)."""
    x = x.requires_grad_(True)
    with _context(members=x.shape[0]):
        out = layer.pre_activation(x) if logits else layer.call(x, training=True)
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    store.zero_grad()
    out.backward(grad)
    expected_weight_grads = store.grad.clone()

    stage = layer.stage(first, logits)
    store.grad.fill_(float("nan"))  # a stage overwrites its weights' gradients
    with _context(members=x.shape[0]):
        stage_out = stage.forward(x.detach())
    input_grad = stage.backward(grad)
    torch.testing.assert_close(stage_out, out.detach())
    torch.testing.assert_close(store.grad, expected_weight_grads, rtol=1e-5, atol=1e-5)
    if first:
        assert input_grad is None
    else:
        torch.testing.assert_close(input_grad, x.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("first", [True, False])
def test_dense_stage_equals_autograd(activation, use_bias, first, members):
    layer = Dense(3, activation=activation, use_bias=use_bias)
    store = _packed(layer, members, (None, 2, 4))
    _assert_stage_equals_autograd(layer, store, torch.randn(members, 5, 2, 4), first)
    assert {id(w) for w in layer.stage(first, False).weights} == {id(v) for v in store.views}


def test_dense_stage_on_a_shared_batch_equals_autograd():
    """A fleet's members sharing one batch: the input has a member axis of 1 (only ever the
    input of the first trained layer of a chain, whose input gradient nothing reads)."""
    layer = Dense(3, activation="relu")
    store = _packed(layer, 3, (None, 4))
    _assert_stage_equals_autograd(layer, store, torch.randn(1, 5, 4), first=True)


def test_dense_stage_for_logits_leaves_the_activation_out():
    layer = Dense(3, activation="softmax")
    store = _packed(layer, 2, (None, 4))
    assert layer.stage(False, False) is None  # softmax declares no derivative
    _assert_stage_equals_autograd(layer, store, torch.randn(2, 5, 4), logits=True)


def test_a_frozen_dense_layer_has_no_stage():
    layer = Dense(3, trainable=False)
    layer.ensure_built((None, 4))
    assert layer.stage(True, False) is None


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh"])
def test_activation_stage_equals_autograd(activation, members):
    layer = Activation(activation)
    store = _packed(layer, members, (None, 4))
    _assert_stage_equals_autograd(layer, store, torch.randn(members, 5, 4))


def test_an_activation_without_a_declared_derivative_has_no_stage():
    assert Activation("softmax").stage(False, False) is None
    assert Activation("elu").stage(False, False) is None
    assert Activation(lambda x: 2 * x).stage(False, False) is None


def test_a_final_activation_read_as_logits_passes_through():
    layer = Activation("softmax")
    store = _packed(layer, 1, (None, 4))
    _assert_stage_equals_autograd(layer, store, torch.randn(1, 5, 4), logits=True)


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_dropout_stage_draws_the_layers_mask_and_equals_autograd(rate, members):
    layer = Dropout(rate)
    store = _packed(layer, members, (None, 6))
    _assert_stage_equals_autograd(layer, store, torch.randn(members, 5, 6))


def test_flatten_stage_equals_autograd(members):
    layer = Flatten()
    store = _packed(layer, members, (None, 2, 3))
    _assert_stage_equals_autograd(layer, store, torch.randn(members, 5, 2, 3))


@pytest.mark.parametrize("fn", list(activations.BACKWARD_FROM_OUTPUT), ids=lambda f: f.__name__)
def test_each_declared_activation_derivative_equals_autograds(fn):
    x = torch.randn(3, 7, requires_grad=True)
    grad = torch.randn(3, 7)
    out = fn(x)
    out.backward(grad)
    derivative = activations.backward_from_output(fn)
    torch.testing.assert_close(derivative(grad, out.detach()), x.grad)


# -- which layers declare a stage ---------------------------------------------------------
class _Doubled(Dense):
    """A Dense subclass that changes the forward pass."""

    def call(self, inputs, training=False):
        return 2 * super().call(inputs, training)


class _Renamed(Dense):
    """A Dense subclass that keeps Dense's maths."""


class _Scale(Layer):
    def call(self, inputs, training=False):
        return 2 * inputs


def test_a_layer_has_no_stage_unless_it_declares_one():
    assert Layer().stage(True, False) is None
    assert _Scale().stage(False, False) is None


def test_a_subclass_that_rewrites_the_forward_pass_does_not_inherit_the_stage():
    doubled, renamed = _Doubled(3), _Renamed(3)
    for layer in (doubled, renamed):
        _packed(layer, 1, (None, 4))
    assert doubled.stage(True, False) is None
    assert renamed.stage(True, False) is not None
