"""The core layers' fast paths: stages for the engine's fused training step.

A stage is one layer's training-mode forward pass written together with its backward pass
(the protocol is `Layer.stage`): `forward(x)` keeps what `backward(grad)` reads, and
`backward` overwrites the `.grad` of each tensor in `weights` (views of the model's flat
gradient buffer) and returns the gradient of the input, or None when built `first`.
"""

import torch

from netfleet import activations
from netfleet.ops import context
from netfleet.ops.linear import member_linear


class ActivationStage:
    """An elementwise activation; its backward reads the saved output."""

    weights = ()

    def __init__(self, fn, derivative):
        self.fn = fn
        self.derivative = derivative
        self.out = None

    def forward(self, x):
        self.out = self.fn(x)
        return self.out

    def backward(self, grad):
        return self.derivative(grad, self.out)


def activation_stage(fn):
    """The stage applying activation `fn`, or None when `fn` declares no derivative."""
    derivative = activations.backward_from_output(fn)
    return None if derivative is None else ActivationStage(fn, derivative)


class PassThroughStage:
    """A layer with nothing to compute on this path: a final activation that the loss reads
    the logits of, a linear activation, Dropout(0)."""

    weights = ()

    def forward(self, x):
        return x

    def backward(self, grad):
        return grad


class DenseStage:
    """`activation(x @ kernel + bias)`; its backward writes the kernel's and bias' gradients.

    Args:
        layer: The built `Dense` layer, its weights packed in the flat buffer.
        first: Whether nothing trainable comes before it (no gradient for its input).
        activation: The stage of its activation, or None for linear outputs.
    """

    def __init__(self, layer, first, activation=None):
        self.weights = (layer.kernel, layer.bias) if layer.use_bias else (layer.kernel,)
        self.kernel = layer.kernel.detach()
        self.kernel_grad = layer.kernel.grad
        # bmm writes into a contiguous view directly; into the strided views of a fleet's
        # buffer, computing apart and copying measured faster. The apart tensor is kept from
        # step to step (see `Optimizer.scratch`: a fresh one costs page faults).
        self.direct = self.kernel_grad.is_contiguous()
        self.apart = (
            None
            if self.direct
            else torch.empty_like(self.kernel_grad, memory_format=torch.contiguous_format)
        )
        self.bias = layer.bias.detach() if layer.use_bias else None
        self.bias_grad = layer.bias.grad if layer.use_bias else None
        self.first = first
        self.activation = activation
        self.x = None

    def forward(self, x):
        self.x = x
        out = member_linear(x, self.kernel, self.bias)
        return out if self.activation is None else self.activation.forward(out)

    def backward(self, grad):
        if self.activation is not None:
            grad = self.activation.backward(grad)
        members, n_in, n_out = self.kernel.shape
        flat = grad.reshape(members, -1, n_out)
        x = self.x.reshape(self.x.shape[0], -1, n_in).expand(members, -1, -1)
        if self.direct:
            torch.bmm(x.transpose(1, 2), flat, out=self.kernel_grad)
        else:
            self.kernel_grad.copy_(torch.bmm(x.transpose(1, 2), flat, out=self.apart))
        if self.bias_grad is not None:
            torch.sum(flat, 1, out=self.bias_grad)
        if self.first:
            return None
        return torch.bmm(flat, self.kernel.transpose(1, 2)).view(members, *self.x.shape[1:])


class DropoutStage:
    """Dropout with the forward context's mask, drawn as `Dropout.call` draws it."""

    weights = ()

    def __init__(self, rate):
        self.keep = 1.0 - rate
        self.mask = None

    def forward(self, x):
        self.mask = context.current().bernoulli(x.shape[1:], self.keep)
        return x * self.mask / self.keep

    def backward(self, grad):
        return grad * self.mask / self.keep


class FlattenStage:
    """`Flatten`; its backward restores the input's example shape."""

    weights = ()

    def __init__(self, layer):
        self.layer = layer
        self.shape = None

    def forward(self, x):
        self.shape = x.shape[1:]
        return self.layer.call(x)

    def backward(self, grad):
        return grad.reshape(grad.shape[0], *self.shape)
