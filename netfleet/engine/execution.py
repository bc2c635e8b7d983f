"""How an epoch's training steps run on the device: the whole working set at once or a slice
of members after another (`engine.chunks`), replayed from a CUDA graph where the step
qualifies (`engine.captured`), with dropout masks drawn where the step computes.

On the CPU with every member at once, a step is exactly the loop's plain step: the fused step
or autograd, then one optimizer update.
"""

import torch

from netfleet.engine.chunks import Chunks, SlicedContext
from netfleet.ops import seeding
from netfleet.ops.context import ForwardContext


class EpochSteps:
    """The training steps of one epoch of a working set.

    Args:
        work: The epoch's working set (`engine.compaction`): its `store`, `optimizer`,
            fused `step` (or None: autograd) with `make_step`, `context`, `source`.
        forward_loss: `forward_loss(batch, accumulator)`: each member's mean loss through
            autograd, accumulating loss and metrics.
        example_weights: `example_weights(batch)`: per-example weights or None.
        device: The device the step computes on.
        chunk_size: Members per slice, or None: every member at once.
        captured: The fit's `captured.CapturedStep`, or None.

    Attributes:
        context: The forward context to train under (set for the epoch).
    """

    def __init__(self, work, forward_loss, example_weights, device, chunk_size, captured):
        self.work = work
        self.forward_loss = forward_loss
        self.example_weights = example_weights
        self.device = device
        self.whole = _on_device(work.context, device)
        self.chunks = None
        if chunk_size is not None and chunk_size < work.members:
            self.chunks = Chunks.for_training(work.model, work.store, chunk_size)
        self.context = self.whole
        if self.chunks is not None:
            self.context = SlicedContext(self.whole, self.chunks.bounds)
        self.captured = captured

    def accumulator(self, make):
        """The epoch's accumulator: `make(members)`, one per slice when sliced."""
        if self.chunks is None:
            return make(self.work.members)
        return self.chunks.accumulator(make)

    def train(self, batch, accumulator):
        """One step on `batch`: each member's mean loss, or None from a fused step that does
        not return them."""
        work = self.work
        trained = _combine(work.active_mask(), batch.active, self.device)
        self.whole.active = trained
        self.whole.counts = batch.counts
        if self.captured is not None and self.captured.takes(batch, trained):
            return self.captured(work, batch, accumulator, self._gradients, self.whole.generators)
        loss = self._gradients(batch, accumulator)
        work.optimizer.apply(work.store.data, work.store.grad, trained)
        return loss

    def _gradients(self, batch, accumulator):
        """The forward and backward passes: gradients into the working set's buffer."""
        work = self.work
        if self.chunks is not None:
            make_step = None if work.step is None else work.make_step
            return self.chunks.train(
                batch, accumulator, self.context, make_step, self.forward_loss, self.example_weights
            )
        if work.step is not None:
            return work.step(batch, accumulator, self.example_weights(batch))
        loss = self.forward_loss(batch, accumulator)
        work.store.zero_grad()
        torch.autograd.backward(loss, torch.ones_like(loss))  # each member its own gradient
        return loss


def _combine(active_members, step_active, device):
    """The members a step trains `(M,)` on `device`, or None for all."""
    if active_members is None:
        return step_active
    active_members = active_members.to(device)
    return active_members if step_active is None else active_members & step_active


def _on_device(context, device):
    """`context` with its dropout generators on `device`: on a GPU, one device generator per
    CPU generator, seeded from it at each epoch (see `seeding.device_generators`); on the
    CPU, `context` itself."""
    if device.type == "cpu":
        return context
    group = context.member_group
    return ForwardContext(
        context.training,
        seeding.device_generators(context.generators, device),
        None if group is None else group.to(device),
        context.active,
    )
