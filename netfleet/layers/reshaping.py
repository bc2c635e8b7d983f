"""Reshaping layers: Reshape (Flatten is a core layer)."""

import math
import numbers

from netfleet import registry
from netfleet.errors import InvalidArgumentError, argument_error
from netfleet.layers.base import Layer


@registry.register("layer")
class Reshape(Layer):
    """Gives each example the shape `target_shape`; one entry may be `-1`, inferred from
    the example's size.

    Args:
        target_shape: The new shape of one example (no batch axis).

    Shape:
        `(M, batch, *example)` → `(M, batch, *target_shape)`.

    >>> from netfleet.layers import Reshape
    >>> Reshape((-1, 4)).compute_output_shape((None, 2, 6))
    (None, 3, 4)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        expected = "a tuple of integers >= 1, with at most one -1"
        try:
            shape = tuple(target_shape)
        except TypeError:
            raise argument_error("target_shape", "Reshape", expected, target_shape) from None
        valid = all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and (d >= 1 or d == -1)
            for d in shape
        )
        if not valid or shape.count(-1) > 1:
            raise argument_error("target_shape", "Reshape", expected, target_shape)
        self.target_shape = tuple(int(d) for d in shape)

    def call(self, inputs, training=False):
        return inputs.reshape(*inputs.shape[:2], *self.target_shape)

    def compute_output_shape(self, input_shape):
        example = tuple(input_shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if any(d is None for d in example):
            size = None
        else:
            size = math.prod(example)
            fits = size % known == 0 if -1 in self.target_shape else size == known
            if not fits:
                raise InvalidArgumentError(
                    f"Reshape cannot give examples of shape {example} ({size} values) the "
                    f"shape {self.target_shape}."
                )
        inferred = None if size is None else size // known
        shape = tuple(inferred if d == -1 else d for d in self.target_shape)
        return (input_shape[0], *shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}
