"""Keras' `backend` functions the course uses: `clear_session()`, `function()`, and
`get_value()` / `set_value()` for an optimizer's learning rate."""

import numpy as np
import torch

from netfleet.errors import InvalidTypeError
from netfleet.layers import naming
from netfleet.optimizers.variable import LearningRate


def clear_session():
    """Reset automatic layer and model names (`dense`, `dense_1`, ...), as Keras does."""
    naming.reset()


def function(inputs, outputs):
    """A callable from input arrays to output arrays over part of a graph, like Keras'
    `K.function([inp], [out])`: `f([x])` returns a list of NumPy arrays."""
    from netfleet.models.model import Model

    sub = Model(inputs, outputs)
    sub.set_members(_members_of(sub))

    def run(values):
        values = values if isinstance(values, (list, tuple)) else [values]
        if len(sub.inputs) != 1:
            raise ValueError("function() supports models with a single input.")
        result = sub.predict(np.asarray(values[0]), verbose=0)
        return [result] if len(sub.outputs) == 1 else list(result)

    return run


def _members_of(model):
    counts = {layer.num_members for layer in model.layers}
    return max(counts)


def get_value(x):
    """The value of `x` as NumPy, as Keras 2's `K.get_value(model.optimizer.learning_rate)`:
    a learning rate gives a scalar for one model and one value per member `(M,)` for a
    fleet; a tensor its values; a number itself.

    Example:
        >>> from netfleet.optimizers import SGD
        >>> float(get_value(SGD(learning_rate=0.05).learning_rate))
        0.05
    """
    if isinstance(x, LearningRate):
        return x.numpy()
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def set_value(x, value):
    """Set `x` to `value`, as Keras 2's `K.set_value(model.optimizer.learning_rate, 0.01)`:
    a learning rate takes a number for every member or a list with one per member; a
    tensor takes values of its shape.

    Example:
        >>> from netfleet.optimizers import SGD
        >>> optimizer = SGD(learning_rate=0.05)
        >>> set_value(optimizer.learning_rate, 0.01)
        >>> optimizer.learning_rate
        0.01
    """
    if isinstance(x, LearningRate):
        x.assign(value)
        return
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            x.copy_(torch.as_tensor(np.asarray(value), dtype=x.dtype))
        return
    raise InvalidTypeError(
        "set_value() changes a variable in place: an optimizer's learning_rate (e.g. "
        f"model.optimizer.learning_rate) or a tensor. Got {type(x).__name__} {x!r}."
    )
