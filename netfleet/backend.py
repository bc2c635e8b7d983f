"""Keras' `backend` functions the course uses: `clear_session()` and `function()`."""

import numpy as np

from netfleet.layers import naming


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
