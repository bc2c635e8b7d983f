"""All trainable weights of a model as views of one flat `(M, P)` buffer.

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
        self.slots = [
            (layer, name) for layer in layers if layer.trainable for name in layer.weight_names
        ]
        shapes = [tuple(getattr(layer, name).shape[1:]) for layer, name in self.slots]
        sizes = [math.prod(shape) for shape in shapes]
        self.members = members
        self.data = torch.empty(members, sum(sizes))
        self.grad = torch.zeros(members, sum(sizes))
        self.views = []
        offset = 0
        for (layer, name), shape, size in zip(self.slots, shapes, sizes):
            old = getattr(layer, name).detach()
            view = self.data[:, offset : offset + size].view(members, *shape)
            with torch.no_grad():
                view.copy_(old.expand(members, *shape))
            view.requires_grad_(True)
            view.grad = self.grad[:, offset : offset + size].view(members, *shape)
            setattr(layer, name, view)
            self.views.append(view)
            offset += size
        for layer in layers:
            if not layer.trainable:
                for name in layer.weight_names:
                    old = getattr(layer, name).detach()
                    setattr(layer, name, old.expand(members, *old.shape[1:]).clone())

    def is_current(self):
        """Whether every layer still holds this store's views (no other model repacked them)."""
        return all(
            getattr(layer, name) is view for (layer, name), view in zip(self.slots, self.views)
        )

    def zero_grad(self):
        self.grad.zero_()
