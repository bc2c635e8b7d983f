"""All trainable weights of a model as views of one flat `(M, P)` buffer; the others
(frozen layers, BatchNormalization's moving statistics) get one row per member beside it.

The optimizer then updates every parameter of every member with a handful of whole-buffer
operations per step, and gradients land directly in the matching `(M, P)` gradient buffer
(each weight's `.grad` is a view of it, which autograd accumulates into in place).
"""

import math
import warnings

import torch

# Views of the flat gradient buffer do not follow autograd's preferred gradient layout for
# M > 1; accumulation into them is still exact, and this is the layout we want.
warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout")


class ParameterStore:
    """Packs the trainable weights of `layers` into `data` / `grad` of shape (M, P)."""

    def __init__(self, layers, members):
        self.slots = [(layer, name) for layer in layers for name in layer.trainable_weight_names]
        self._pack(members, [getattr(layer, name).detach() for layer, name in self.slots])
        for layer in layers:
            packed = set(layer.trainable_weight_names)
            for name in layer.weight_names:
                if name not in packed:
                    old = getattr(layer, name).detach()
                    setattr(layer, name, old.expand(members, *old.shape[1:]).clone())

    def _pack(self, members, values, device=None):
        """Allocate `data` / `grad` for `members` members on `device` (by default where
        `values` are) and bind each slot's layer to its views, filled from `values` (one
        tensor per slot, broadcast over the members)."""
        shapes = [tuple(value.shape[1:]) for value in values]
        sizes = [math.prod(shape) for shape in shapes]
        if device is None and values:
            device = values[0].device
        self.members = members
        self.data = torch.empty(members, sum(sizes), device=device)
        self.grad = torch.zeros(members, sum(sizes), device=device)
        self.views = []
        self.segments = []  # each weight's (start, end) columns in a row of `data`
        offset = 0
        for (layer, name), value, shape, size in zip(self.slots, values, shapes, sizes):
            view = self.data[:, offset : offset + size].view(members, *shape)
            with torch.no_grad():
                view.copy_(value.expand(members, *shape))
            view.requires_grad_(True)
            view.grad = self.grad[:, offset : offset + size].view(members, *shape)
            setattr(layer, name, view)
            self.views.append(view)
            self.segments.append((offset, offset + size))
            offset += size

    def select(self, rows):
        """A store of the members `rows` (an index tensor) alone, holding a copy of their
        weights in the same layout; the layers hold its views until `bind()` gives them
        this store's back (what compaction does, see `engine.compaction`)."""
        part = ParameterStore.__new__(ParameterStore)
        part.slots = self.slots
        part._pack(len(rows), [view.detach().index_select(0, rows) for view in self.views])
        return part

    def bind(self):
        """Give the layers this store's views (again)."""
        for (layer, name), view in zip(self.slots, self.views):
            setattr(layer, name, view)

    def to(self, device):
        """Move the buffers to `device` (the layers then hold views of the moved ones);
        whether they moved. An optimizer built on the old `data` must be rebuilt."""
        if self.data.device == device:
            return False
        self._pack(self.members, [view.detach() for view in self.views], device)
        return True

    def is_current(self):
        """Whether every layer still holds this store's views (no other model repacked them)."""
        return all(
            getattr(layer, name) is view for (layer, name), view in zip(self.slots, self.views)
        )

    def zero_grad(self):
        self.grad.zero_()
