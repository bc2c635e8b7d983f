"""Utilities with Keras' names: `to_categorical`, `set_random_seed`, `plot_model`,
`model_to_dot`."""

import numpy as np

from netfleet.errors import InvalidArgumentError
from netfleet.ops.seeding import set_random_seed
from netfleet.utils.model_visualization import model_to_dot, plot_model
from netfleet.utils.sequence import PyDataset, Sequence

__all__ = [
    "PyDataset",
    "Sequence",
    "model_to_dot",
    "plot_model",
    "set_random_seed",
    "to_categorical",
]


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer labels `y` (shape `(n,)`) into `(n, num_classes)`."""
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and (np.any(y < 0) or np.any(y != np.round(y))):
        raise InvalidArgumentError(
            f"The 'y' argument of to_categorical must hold integers >= 0. Got values from {y.min()} to {y.max()}."
        )
    y = y.astype(np.int64)
    num_classes = int(y.max()) + 1 if num_classes is None else num_classes
    if y.size and y.max() >= num_classes:
        raise InvalidArgumentError(
            f"The 'num_classes' argument of to_categorical must exceed the largest label {y.max()}. Got {num_classes}."
        )
    out = np.zeros((*y.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out
