"""Eager calls on a list of arrays, for the layers that take several tensors (merging
layers, Lambda): each array is one model's `(batch, ...)` batch, as in Keras."""

import numpy as np
import torch


class ListInputs:
    """Mixin: `layer([a, b])` on arrays or tensors calls the layer on the list."""

    def _call_eager(self, inputs, training):
        if not isinstance(inputs, (list, tuple)):
            return super()._call_eager(inputs, training)
        tensors = [_float_tensor(x) for x in inputs]
        self.ensure_built([(None, *t.shape[1:]) for t in tensors])
        with torch.no_grad():
            out = self.call([t.unsqueeze(0) for t in tensors], training=training)
        return out[0]


def _float_tensor(value):
    tensor = value if torch.is_tensor(value) else torch.as_tensor(np.asarray(value))
    return tensor.to(torch.float32)
