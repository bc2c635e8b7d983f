"""A training step without autograd, for chains of layers that declare a fast path.

Small networks spend most of a step in autograd's bookkeeping, not in arithmetic. When every
layer of a plain chain declares a stage (`Layer.stage`: its forward pass written together
with its backward pass) and the loss declares its gradient (`Loss.gradient`, or
`Loss.logits_gradient` when the model's final activation is left to the loss), this module
drives the stages: forward, the loss's gradient, backward, each member's mean loss landing
directly in the flat gradient buffer (`store.grad`), which the stages overwrite whole. `fit`
uses the step `training_step` returns, and autograd when it returns None.
"""

import torch


class _Head:
    """The loss on the chain's output: its per-example values and their gradient.

    Args:
        value: `(y_true, outputs) -> (M, batch)`, the loss the engine logs.
        gradient: `(y_true, outputs) -> (M, batch, units)`, `factor` times the gradient of
            each example's loss with respect to the outputs.
        factor: The constant the gradient leaves in (see `losses.Gradient`).
    """

    def __init__(self, value, gradient, factor):
        self.value, self.gradient, self.factor = value, gradient, factor


def _head(loss, logits, units):
    """The head for `loss` on logits (if `logits`) or on outputs, or None without a gradient."""
    value, gradient = (loss.logits_fn, loss.logits_gradient) if logits else (loss.fn, loss.gradient)
    if gradient is None:
        return None
    return _Head(value, gradient.fn, gradient.factor(units))


def _stages(layers, logits):
    """Each layer's stage (the last one without its activation if `logits`), or None when a
    layer has none."""
    stages = []
    for index, layer in enumerate(layers):
        first = not any(stage.weights for stage in stages)
        stage = layer.stage(first, logits and index == len(layers) - 1)
        if stage is None:
            return None
        stages.append(stage)
    return stages


def _writes_every_gradient(stages, store):
    """Whether the stages overwrite all of `store.grad`, each weight once."""
    written = [id(weight) for stage in stages for weight in stage.weights]
    packed = {id(view) for view in store.views}
    return bool(written) and len(set(written)) == len(written) and set(written) == packed


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
        first = next(i for i, stage in enumerate(stages) if stage.weights)
        # Bound methods, looked up once: nothing before the first trained stage runs backward.
        self.forwards = [stage.forward for stage in stages]
        self.backwards = [stage.backward for stage in reversed(stages[first:])]
        self.head = head
        self.x, self.y = dataset.x, dataset.y
        self.logits_activation = logits_activation
        self.member_losses = member_losses

    def __call__(self, batch, accumulator, weights):
        """Run the step on `batch` with per-example `weights` (M or 1, B) or None."""
        y, out = batch.gather(self.y), batch.gather(self.x)
        for forward in self.forwards:
            out = forward(out)
        count = batch.count()
        per_example = self.head.value(y, out)
        accumulator.add(per_example, y, out, weights, batch.mask, count, self.logits_activation)
        grad = self.head.gradient(y, out).mul_(_scale(weights, count, self.head.factor))
        for backward in self.backwards:
            grad = backward(grad)
        return member_mean(per_example, weights, count) if self.member_losses else None


def training_step(model, dataset, store, logits_activation, member_losses=False):
    """The fused step for training `model` on `dataset`, or None when it does not qualify.

    It qualifies when the model is a plain chain (`model.layer_chain()`) of layers that each
    declare a stage, writing every trainable weight's gradient once, and the loss declares
    its gradient on the chain's output (on logits when `logits_activation` is set).

    Args:
        model: The model being trained.
        dataset: The training `Dataset` (its `loss` is the one trained).
        store: The model's `ParameterStore`.
        logits_activation: The final activation that the loss reads logits of, or None.
        member_losses: Whether each step returns each member's mean loss.
    """
    layers = model.layer_chain()
    output_shape = model.output_example_shape
    if layers is None or len(output_shape) != 1:
        return None
    logits = logits_activation is not None
    head = _head(dataset.loss, logits, output_shape[-1])
    stages = None if head is None else _stages(layers, logits)
    if stages is None or not _writes_every_gradient(stages, store):
        return None
    return FusedStep(stages, head, dataset, logits_activation, member_losses)
