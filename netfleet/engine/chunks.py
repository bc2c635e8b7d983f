"""Member chunks: a fleet whose activations do not fit the device at once computes each step
one contiguous slice of members after another.

Every member's weights, gradients and optimizer state stay in their buffers. While a slice
computes, the layers hold views of its rows, so its gradients land in their rows of the
gradient buffer; one optimizer step then updates every member, and callbacks, logs and
histories see the whole fleet as usual. Each slice reads its members' rows of the batch and
draws its members' dropout masks from their own generators (a generator shared by members of
several slices draws once per step and its mask serves them all), so each member computes
exactly what it computes when the fleet runs in one piece. How many members a slice holds
comes from `engine.memory`, or from `fit(member_chunk_size=...)`.
"""

import collections
import contextlib

import torch

from netfleet.engine.batching import Batch
from netfleet.ops.context import ForwardContext, forward_context, rows_bernoulli


class _Part:
    """The members `start:end` of a fleet: the tensors the layers hold while they compute
    (`(layer, name, tensor)`), and `views`, their trainable weights (for the fused step)."""

    def __init__(self, start, end, tensors, views=()):
        self.start, self.end = start, end
        self.tensors = tensors
        self.views = list(views)


class Chunks:
    """The slices `bounds` of a fleet's members, and the tensors each one computes with.

    Build with `for_training` (views of a packed store, with gradients) or
    `for_inference` (rows of the weights the layers hold).

    Args:
        parts: One `_Part` per slice, in member order.
        grad: The gradient buffer the slices' views write into (training), or None.
    """

    def __init__(self, parts, grad=None):
        self.parts = parts
        self.bounds = [(part.start, part.end) for part in parts]
        self.grad = grad

    @classmethod
    def for_training(cls, model, store, size):
        """Slices of `size` members of `store`'s fleet: leaf views of their rows of the flat
        weights (with their rows of the gradient buffer as `.grad`) and their rows of the
        layers' other weights."""
        members = store.data.shape[0]
        packed = {(id(layer), name) for layer, name in store.slots}
        parts = []
        for start, end in _bounds(members, size):
            views = []
            for (layer, name), view, (first, last) in zip(store.slots, store.views, store.segments):
                shape = (end - start, *view.shape[1:])
                part = store.data[start:end, first:last].view(shape).requires_grad_(True)
                part.grad = store.grad[start:end, first:last].view(shape)
                views.append((layer, name, part))
            others = [
                (layer, name, _rows(getattr(layer, name), start, end, members))
                for layer in model.layers
                for name in layer.weight_names
                if (id(layer), name) not in packed
            ]
            parts.append(_Part(start, end, views + others, (v for _, _, v in views)))
        return cls(parts, store.grad)

    @classmethod
    def for_inference(cls, model, size, members=None):
        """Slices of `size` members: their rows of every weight the layers hold now (of
        `members` members, by default the model's)."""
        members = members or model.num_members
        parts = [
            _Part(
                start,
                end,
                [
                    (layer, name, _rows(getattr(layer, name), start, end, members))
                    for layer in model.layers
                    for name in layer.weight_names
                ],
            )
            for start, end in _bounds(members, size)
        ]
        return cls(parts)

    @contextlib.contextmanager
    def holding(self, index):
        """Within the block the layers hold slice `index`'s tensors; afterwards what they
        held before."""
        part = self.parts[index]
        held = [(layer, name, getattr(layer, name)) for layer, name, _ in part.tensors]
        for layer, name, tensor in part.tensors:
            setattr(layer, name, tensor)
        try:
            yield part
        finally:
            for layer, name, tensor in held:
                setattr(layer, name, tensor)

    def accumulator(self, make):
        """One accumulator per slice (`make(members)`), read as one."""
        return ChunkedAccumulator([make(end - start) for start, end in self.bounds])

    def train(self, batch, accumulator, context, make_step, forward_loss, example_weights):
        """Forward and backward passes of one training step, slice after slice; each
        member's mean loss `(M,)`, or None when the fused step returns none.

        Args:
            batch: The step's `Batch` for every member.
            accumulator: The `ChunkedAccumulator` of the epoch.
            context: The epoch's `SlicedContext`.
            make_step: `make_step(part)`, the fused step on a slice's views, or None to
                train through autograd.
            forward_loss: `forward_loss(batch, accumulator)`, each member's loss (autograd).
            example_weights: `example_weights(batch)`, the per-example weights or None.
        """
        if make_step is None:
            self.grad.zero_()  # autograd adds into the slices' rows
        context.new_step()
        losses = []
        for index, (start, end) in enumerate(self.bounds):
            piece = batch_rows(batch, start, end)
            with self.holding(index) as part, forward_context(context.enter(index)):
                if make_step is not None:
                    step = make_step(part)
                    loss = step(piece, accumulator.parts[index], example_weights(piece))
                else:
                    loss = forward_loss(piece, accumulator.parts[index])
                    torch.autograd.backward(loss, torch.ones_like(loss))
                    loss = loss.detach()
            losses.append(loss)
        return None if losses[0] is None else torch.cat(losses)

    def forward(self, run):
        """`run(index, start, end)` for each slice while the layers hold its tensors; the
        results in slice order."""
        results = []
        for index, (start, end) in enumerate(self.bounds):
            with self.holding(index):
                results.append(run(index, start, end))
        return results


class ChunkedAccumulator:
    """The accumulators of the slices (`parts`), whose running values read as one `(M,)`."""

    def __init__(self, parts):
        self.parts = parts

    def running(self):
        values = [part.running() for part in self.parts]
        return {key: torch.cat([value[key] for value in values]) for key in values[0]}


class SlicedContext(ForwardContext):
    """The training context of one slice at a time of the members of `whole` (the epoch's
    `ForwardContext`): its members' generators, its rows of `whole.active`, and masks of
    generators shared with other slices drawn once per step.

    Args:
        whole: The context of every member.
        bounds: The slices `(start, end)`.
    """

    def __init__(self, whole, bounds):
        super().__init__(whole.training)
        self.whole = whole
        self.bounds = bounds
        members = bounds[-1][1]
        leader = _leaders(whole, members)
        self.slice_leaders = [sorted(set(leader[start:end])) for start, end in bounds]
        self.slice_groups = [
            _group(leader[start:end], leaders, whole.generators)
            for (start, end), leaders in zip(bounds, self.slice_leaders)
        ]
        counts = collections.Counter(g for leaders in self.slice_leaders for g in leaders)
        self.shared = {g for g, count in counts.items() if count > 1}
        self.drawn = {}
        self.index = 0
        self.calls = 0

    def draws_masks(self):
        return self.whole.draws_masks()

    def new_step(self):
        """Forget the masks of the last step."""
        self.drawn.clear()

    def enter(self, index):
        """This context, set for slice `index` (whose forward pass comes next)."""
        start, end = self.bounds[index]
        self.index, self.calls = index, 0
        self.training = self.whole.training
        active, counts = self.whole.active, self.whole.counts
        self.active = None if active is None else active[start:end]
        self.counts = None if counts is None else counts[start:end]
        return self

    def bernoulli(self, member_shape, keep_prob):
        """The slice's rows of the mask `ForwardContext.bernoulli` would draw for every
        member (the same values)."""
        if self.counts is not None:  # a padded step: one generator per member, no sharing
            start, end = self.bounds[self.index]
            generators = self.whole.generators[start:end]
            return rows_bernoulli(generators, self.counts, member_shape, keep_prob)
        call, self.calls = self.calls, self.calls + 1
        masks = []
        for leader in self.slice_leaders[self.index]:
            mask = self.drawn.get((call, leader))
            if mask is None:
                generator = self.whole.generators[leader]
                mask = torch.empty(member_shape, device=generator.device)
                mask.bernoulli_(keep_prob, generator=generator)
                if leader in self.shared:
                    self.drawn[(call, leader)] = mask
            masks.append(mask)
        masks = torch.stack(masks)
        group = self.slice_groups[self.index]
        return masks if group is None else masks[group]


def batch_rows(batch, start, end):
    """The rows of members `start:end` of `batch` (a shared batch serves every slice)."""
    if batch.shared:
        return batch
    mask = None if batch.mask is None else batch.mask[start:end]
    active = None if batch.active is None else batch.active[start:end]
    counts = None if batch.counts is None else batch.counts[start:end]
    return Batch(batch.idx[start:end], mask, active, counts)


def _bounds(members, size):
    return [(start, min(start + size, members)) for start in range(0, members, size)]


def _rows(tensor, start, end, members):
    """Rows `start:end` of a per-member tensor; a one-member tensor serves every slice."""
    return tensor[start:end] if tensor.shape[0] == members else tensor


def _leaders(context, members):
    """For each member, the index of the generator its masks come from."""
    if context.member_group is not None:
        return [int(g) for g in context.member_group]
    if len(context.generators) == members:
        return list(range(members))
    return [0] * members


def _group(leaders_of_members, leaders, generators):
    """Which of `leaders`' masks each member of a slice takes, or None when they are in
    order (one each) or one mask serves all."""
    position = [leaders.index(leader) for leader in leaders_of_members]
    if len(leaders) == 1 or position == list(range(len(position))):
        return None
    device = generators[leaders[0]].device if generators else None
    return torch.tensor(position, device=device)
