"""Preprocessing layers that hold no learnt state: Rescaling (Normalization, which learns its
statistics with `adapt`, lives with the normalization layers)."""

import math
import numbers

import numpy as np
import torch

from netfleet import registry
from netfleet.errors import argument_error
from netfleet.layers.base import Layer


def _factor(value, name):
    """A finite number, or a list of them (one per position of the last axes)."""
    expected = "a finite number or a list of them"
    if isinstance(value, bool):
        raise argument_error(name, "Rescaling", expected, value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise argument_error(name, "Rescaling", expected, value)
        return float(value)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise argument_error(name, "Rescaling", expected, value) from None
    if array.dtype == object or array.ndim == 0 or not np.isfinite(array).all():
        raise argument_error(name, "Rescaling", expected, value)
    return array.tolist()


@registry.register("layer")
class Rescaling(Layer):
    """Computes `inputs * scale + offset` (e.g. `Rescaling(1 / 255)` for pixel values).

    Args:
        scale: A number, or a list broadcast against the last axes of each example.
        offset: As `scale`. Defaults to `0.0`.

    Shape:
        `(M, batch, ...)` → the same.

    >>> from netfleet.layers import Rescaling
    >>> Rescaling(1 / 127.5, offset=-1)([[0.0, 255.0]]).numpy()
    array([[-1.,  1.]], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _factor(scale, "scale")
        self.offset = _factor(offset, "offset")

    def call(self, inputs, training=False):
        scale = torch.as_tensor(self.scale, dtype=inputs.dtype, device=inputs.device)
        offset = torch.as_tensor(self.offset, dtype=inputs.dtype, device=inputs.device)
        return inputs * scale + offset

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
