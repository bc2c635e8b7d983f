"""A training step without autograd, for chains of Dense layers.

Small networks spend most of a step in autograd's bookkeeping, not in arithmetic. For the
common case, a chain of `Dense`, `Activation`, `Dropout` and `Flatten` layers trained on a
cross-entropy from logits or on mean squared error, this module writes the backward pass
out: the forward pass keeps what the backward pass reads, and the gradient of each member's
mean loss lands directly in the layers' views of the flat gradient buffer (`store.grad`),
which it overwrites whole. `fit` uses the step `training_step` returns, and autograd when it
returns None.
"""

import torch

from netfleet import activations, losses
from netfleet.layers.core import Activation, Dense, Dropout, Flatten
from netfleet.ops import context
from netfleet.ops.linear import member_linear

ENABLED = True  # private switch: False makes fit train with autograd (the tests compare both)

# d(activation)/d(input) applied to an incoming gradient, from the activation's output.
_BACKWARD = {
    activations.relu: lambda grad, out: torch.ops.aten.threshold_backward.default(grad, out, 0),
    activations.sigmoid: torch.ops.aten.sigmoid_backward.default,
    activations.tanh: torch.ops.aten.tanh_backward.default,
}
_MINUS_ONE = torch.tensor(-1.0)


class _DenseStage:
    """`x @ kernel + bias`; its backward writes the kernel's and bias' gradients."""

    def __init__(self, layer, first):
        self.layer = layer
        self.kernel = layer.kernel.detach()
        self.kernel_grad = layer.kernel.grad
        # bmm writes into a contiguous view directly; into the strided views of a fleet's
        # buffer, computing apart and copying measured faster.
        self.direct = self.kernel_grad.is_contiguous()
        self.bias = layer.bias.detach() if layer.use_bias else None
        self.bias_grad = layer.bias.grad if layer.use_bias else None
        self.first = first  # nothing to train before it: no gradient for its input
        self.x = None

    def forward(self, x):
        self.x = x
        return member_linear(x, self.kernel, self.bias)

    def backward(self, grad):
        members, n_in, n_out = self.kernel.shape
        flat = grad.reshape(members, -1, n_out)
        x = self.x.reshape(self.x.shape[0], -1, n_in).expand(members, -1, -1)
        if self.direct:
            torch.bmm(x.transpose(1, 2), flat, out=self.kernel_grad)
        else:
            self.kernel_grad.copy_(torch.bmm(x.transpose(1, 2), flat))
        if self.bias_grad is not None:
            torch.sum(flat, 1, out=self.bias_grad)
        if self.first:
            return None
        return torch.bmm(flat, self.kernel.transpose(1, 2)).view(members, *self.x.shape[1:])


class _ActivationStage:
    """An elementwise activation; its backward reads the saved output."""

    def __init__(self, fn):
        self.fn = fn
        self.derivative = _BACKWARD[fn]
        self.out = None

    def forward(self, x):
        self.out = self.fn(x)
        return self.out

    def backward(self, grad):
        return self.derivative(grad, self.out)


class _DropoutStage:
    """Dropout with the forward context's mask, drawn as `Dropout.call` draws it."""

    def __init__(self, layer):
        self.keep = 1.0 - layer.rate
        self.mask = None

    def forward(self, x):
        self.mask = context.current().bernoulli(x.shape[1:], self.keep)
        return x * self.mask / self.keep

    def backward(self, grad):
        return grad * self.mask / self.keep


class _FlattenStage:
    """`Flatten`; its backward restores the input's example shape."""

    def __init__(self, layer):
        self.layer = layer
        self.shape = None

    def forward(self, x):
        self.shape = x.shape[1:]
        return self.layer.call(x)

    def backward(self, grad):
        return grad.reshape(grad.shape[0], *self.shape)


def _softmax_sparse_gradient(logits, labels):
    """d(cross-entropy)/d(logits) per example for class indices: softmax - one-hot."""
    index = labels.expand(logits.shape[:-1]).unsqueeze(-1)
    return torch.softmax(logits, -1).scatter_add_(-1, index, _MINUS_ONE.expand(index.shape))


def _softmax_gradient(logits, targets):
    """d(cross-entropy)/d(logits) per example for one-hot or soft targets."""
    return torch.softmax(logits, -1).sub_(targets)


def _sigmoid_gradient(logits, targets):
    """d(binary cross-entropy summed over units)/d(logits): sigmoid - targets."""
    return torch.sigmoid(logits).sub_(targets)


def _error_gradient(outputs, targets):
    """Half d(squared error summed over units)/d(outputs): outputs - targets."""
    return outputs - targets


class _Head:
    """The loss on the chain's output: its per-example values and their gradient.

    Args:
        value: `(y_true, outputs) -> (M, batch)`, the loss the engine logs.
        gradient: `(outputs, y_true) -> (M, batch, units)`, `factor` times the gradient of
            each example's loss with respect to the outputs.
        factor: 1 for the categorical cross-entropies, the number of units for the binary
            one (a mean over units), half of it for mean squared error.
    """

    def __init__(self, value, gradient, factor):
        self.value, self.gradient, self.factor = value, gradient, factor


def _head(loss, logits_activation, units):
    """The head for `loss` on logits (when `logits_activation` is set) or outputs, or None."""
    if logits_activation is not None:
        gradients = {
            losses.sparse_categorical_crossentropy_from_logits: (_softmax_sparse_gradient, 1),
            losses.categorical_crossentropy_from_logits: (_softmax_gradient, 1),
            losses.binary_crossentropy_from_logits: (_sigmoid_gradient, units),
        }
        if loss.logits_fn not in gradients:
            return None
        gradient, factor = gradients[loss.logits_fn]
        return _Head(loss.logits_fn, gradient, factor)
    if loss.fn is losses.mean_squared_error:
        return _Head(loss.fn, _error_gradient, units / 2)
    return None


def _chain(model):
    """The layers from the model's input to its output, if the graph is a plain chain."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    tensor, layers = model.inputs[0], []
    for node in model.nodes:
        if len(node.inbound) != 1 or node.inbound[0] is not tensor or len(node.outputs) != 1:
            return None
        tensor = node.outputs[0]
        layers.append(node.layer)
    return layers if tensor is model.outputs[0] else None


def _layer_stages(layer, first_dense, drop_activation):
    """The stages computing `layer` (its activation left out if `drop_activation`), or None
    when the fused step cannot compute it."""
    kind = type(layer)
    if kind is Flatten:
        return [_FlattenStage(layer)]
    if kind is Dropout:
        return [_DropoutStage(layer)] if layer.rate > 0 else []
    if kind is not Dense and kind is not Activation:
        return None
    stages = [_DenseStage(layer, first_dense)] if kind is Dense else []
    if drop_activation or layer.activation is activations.linear:
        return stages
    if layer.activation not in _BACKWARD:
        return None
    return [*stages, _ActivationStage(layer.activation)]


def _stages(layers, logits):
    """The stages computing the chain `layers` (logits: without the final activation)."""
    stages = []
    for index, layer in enumerate(layers):
        if not layer.trainable:
            return None
        first_dense = not any(isinstance(stage, _DenseStage) for stage in stages)
        more = _layer_stages(layer, first_dense, logits and index == len(layers) - 1)
        if more is None:
            return None
        stages.extend(more)
    return stages


def _writes_every_gradient(stages, store):
    """Whether the Dense stages overwrite all of `store.grad`, each slot once."""
    dense = [id(stage.layer) for stage in stages if isinstance(stage, _DenseStage)]
    packed = {id(layer) for layer, _ in store.slots}
    return bool(dense) and len(set(dense)) == len(dense) and set(dense) == packed


def _scale(weights, count, factor):
    """d(member's mean loss)/d(example's loss) / `factor`, shaped for (M, batch, units)."""
    if weights is None:
        return 1.0 / (count * factor)
    if torch.is_tensor(count):
        count = count.clamp_min(1.0).unsqueeze(1)
    return (weights / (count * factor)).unsqueeze(-1)


def member_mean(per_example, weights, count):
    """Each member's mean loss (M,) over its real rows; 0 for a member with no row in the
    step (it is not updated then), never 0/0 = NaN, which would look like divergence."""
    if weights is None:
        return per_example.mean(1)
    if torch.is_tensor(count):
        count = count.clamp_min(1.0)
    return (per_example * weights).sum(1) / count


class FusedStep:
    """One training step: forward, loss and metrics into the accumulator, gradients into
    `store.grad` (every slot overwritten: no need to zero it first).

    Args:
        stages: The chain's stages, in forward order.
        head: The `_Head` of the loss.
        dataset: The training `Dataset` (its `x` and `y` are gathered per batch).
        logits_activation: The activation the head's logits skip, or None.
        member_losses: Whether a step returns each member's mean loss (else None).
    """

    def __init__(self, stages, head, dataset, logits_activation, member_losses):
        first = next(i for i, stage in enumerate(stages) if isinstance(stage, _DenseStage))
        self.stages = stages
        self.backward_stages = stages[first:][::-1]
        self.head = head
        self.x, self.y = dataset.x, dataset.y
        self.logits_activation = logits_activation
        self.member_losses = member_losses

    def __call__(self, batch, accumulator, weights):
        """Run the step on `batch` with per-example `weights` (M or 1, B) or None."""
        y, out = batch.gather(self.y), batch.gather(self.x)
        for stage in self.stages:
            out = stage.forward(out)
        count = batch.count()
        per_example = self.head.value(y, out)
        accumulator.add(per_example, y, out, weights, count, self.logits_activation)
        grad = self.head.gradient(out, y).mul_(_scale(weights, count, self.head.factor))
        for stage in self.backward_stages:
            grad = stage.backward(grad)
        return member_mean(per_example, weights, count) if self.member_losses else None


def training_step(model, dataset, store, logits_activation, member_losses=False):
    """The fused step for training `model` on `dataset`, or None when it does not qualify.

    It qualifies when the graph is a chain of trainable `Dense`, `Activation`, `Dropout` and
    `Flatten` layers with linear, relu, sigmoid or tanh activations, ending in logits for a
    cross-entropy (`logits_activation` set) or in outputs for mean squared error.

    Args:
        model: The model being trained.
        dataset: The training `Dataset` (its `loss` is the one trained).
        store: The model's `ParameterStore`.
        logits_activation: The final activation that the loss reads logits of, or None.
        member_losses: Whether each step returns each member's mean loss.
    """
    if not ENABLED:
        return None
    layers = _chain(model)
    output_shape = model.output_example_shape
    if layers is None or len(output_shape) != 1:
        return None
    head = _head(dataset.loss, logits_activation, output_shape[-1])
    stages = None if head is None else _stages(layers, logits_activation is not None)
    if stages is None or not _writes_every_gradient(stages, store):
        return None
    return FusedStep(stages, head, dataset, logits_activation, member_losses)
