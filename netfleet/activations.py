"""Activation functions by Keras name, applied elementwise (softmax on the last axis)."""

import torch
import torch.nn.functional as F

from netfleet import registry
from netfleet.errors import InvalidTypeError, unknown_name_error
from netfleet.ops import classes


@registry.register("activation")
def linear(x):
    return x


@registry.register("activation")
def sigmoid(x):
    return torch.sigmoid(x)


@registry.register("activation")
def tanh(x):
    return torch.tanh(x)


@registry.register("activation")
def relu(x):
    return torch.relu(x)


@registry.register("activation")
def softmax(x):
    return classes.softmax(x)


@registry.register("activation")
def elu(x):
    return F.elu(x)


@registry.register("activation")
def selu(x):
    return F.selu(x)


@registry.register("activation")
def softplus(x):
    return F.softplus(x)


@registry.register("activation")
def softsign(x):
    return F.softsign(x)


@registry.register("activation")
def hard_sigmoid(x):
    """Keras 3's hard sigmoid: relu6(x + 3) / 6."""
    return F.hardsigmoid(x)


@registry.register("activation")
def leaky_relu(x, negative_slope=0.2):
    """Keras 3's default slope is 0.2."""
    return F.leaky_relu(x, negative_slope)


@registry.register("activation")
def gelu(x):
    return F.gelu(x)


@registry.register("activation")
def swish(x):
    return F.silu(x)


def _pass_through(grad, out):
    return grad


def _relu_backward(grad, out):
    return torch.ops.aten.threshold_backward.default(grad, out, 0)


# Each activation's derivative as a hand-written backward pass applies it: from the output
# `out = f(x)` it kept, `(grad, out) -> grad * f'(x)`. An activation missing here declares
# none, and a layer using it trains through autograd.
BACKWARD_FROM_OUTPUT = {
    linear: _pass_through,
    relu: _relu_backward,
    sigmoid: torch.ops.aten.sigmoid_backward.default,
    tanh: torch.ops.aten.tanh_backward.default,
}


def backward_from_output(fn):
    """The derivative of activation `fn` from its output (see `BACKWARD_FROM_OUTPUT`), or None.

    >>> out = sigmoid(torch.tensor([0.0]))
    >>> backward_from_output(sigmoid)(torch.tensor([1.0]), out)
    tensor([0.2500])
    >>> backward_from_output(softmax) is None
    True
    """
    return BACKWARD_FROM_OUTPUT.get(fn)


ALL = registry.entries("activation")  # the built-in activations by name
ALIASES = {"silu": "swish", None: "linear"}


def get(identifier):
    """Return the activation function for a name, None (linear) or a callable."""
    if callable(identifier):
        return identifier
    if identifier is not None and not isinstance(identifier, str):
        raise InvalidTypeError(
            f"An activation must be a name or a callable. Got {type(identifier).__name__}."
        )
    registered = registry.entries("activation")
    name = ALIASES.get(identifier, identifier)
    if name not in registered:
        raise unknown_name_error("activation", identifier, list(registered))
    return registered[name]


def serialize(fn):
    """Return the name under which `fn` is registered (for configs)."""
    for name, known in registry.entries("activation").items():
        if known is fn:
            return name
    raise InvalidTypeError(f"Cannot save the custom activation {fn!r}: only named ones can be.")
