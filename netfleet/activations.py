"""Activation functions by Keras name, applied elementwise (softmax on the last axis)."""

import torch
import torch.nn.functional as F

from netfleet.errors import InvalidTypeError, unknown_name_error


def linear(x):
    return x


def sigmoid(x):
    return torch.sigmoid(x)


def tanh(x):
    return torch.tanh(x)


def relu(x):
    return torch.relu(x)


def softmax(x):
    return torch.softmax(x, dim=-1)


def elu(x):
    return F.elu(x)


def selu(x):
    return F.selu(x)


def softplus(x):
    return F.softplus(x)


def softsign(x):
    return F.softsign(x)


def hard_sigmoid(x):
    """Keras 3's hard sigmoid: relu6(x + 3) / 6."""
    return F.hardsigmoid(x)


def leaky_relu(x, negative_slope=0.2):
    """Keras 3's default slope is 0.2."""
    return F.leaky_relu(x, negative_slope)


def gelu(x):
    return F.gelu(x)


def swish(x):
    return F.silu(x)


ALL = {
    f.__name__: f
    for f in (
        linear,
        sigmoid,
        tanh,
        relu,
        softmax,
        elu,
        selu,
        softplus,
        softsign,
        hard_sigmoid,
        leaky_relu,
        gelu,
        swish,
    )
}
ALIASES = {"silu": "swish", None: "linear"}


def get(identifier):
    """Return the activation function for a name, None (linear) or a callable."""
    if callable(identifier):
        return identifier
    if identifier is not None and not isinstance(identifier, str):
        raise InvalidTypeError(
            f"An activation must be a name or a callable. Got {type(identifier).__name__}."
        )
    name = ALIASES.get(identifier, identifier)
    if name not in ALL:
        raise unknown_name_error("activation", identifier, list(ALL))
    return ALL[name]


def serialize(fn):
    """Return the name under which `fn` is registered (for configs)."""
    for name, known in ALL.items():
        if known is fn:
            return name
    raise InvalidTypeError(f"Cannot save the custom activation {fn!r}: only named ones can be.")
