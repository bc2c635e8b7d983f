"""Merging layers: combine a list of tensors into one (Concatenate, Add, Subtract, Multiply,
Average, Maximum, Minimum) and their functional forms (`concatenate`, `add`, ...).

Elementwise merges broadcast as Keras does: example axes of length 1 stretch, and an input
with fewer axes gets them right after the batch axis. A tensor shared by all members
`(1, batch, ...)` merges with a per-member one `(M, batch, ...)`.
"""

import functools
import numbers

import torch

from netfleet import registry
from netfleet.errors import InvalidArgumentError, argument_error
from netfleet.layers.base import Layer
from netfleet.layers.list_inputs import ListInputs


def _input_shapes(input_shape):
    """A list of shapes, from a list of shapes or the one shape of a single input."""
    if input_shape and isinstance(input_shape[0], (tuple, list)):
        return [tuple(shape) for shape in input_shape]
    return [tuple(input_shape)]


def _as_list(inputs):
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


class Merge(ListInputs, Layer):
    """Base of the merging layers: `merge` a list of tensors of broadcastable shapes.

    Shape:
        a list of `(M or 1, batch, ...)` → `(M or 1, batch, ...)` (the broadcast shape).
    """

    min_inputs, max_inputs = 1, None

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs, training=False):
        tensors = _as_list(inputs)
        rank = max(t.ndim for t in tensors)
        tensors = [t.reshape(*t.shape[:2], *[1] * (rank - t.ndim), *t.shape[2:]) for t in tensors]
        return self.merge(tensors)

    def merge(self, tensors):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        shapes = self._check_count(_input_shapes(input_shape))
        return (shapes[0][0], *functools.reduce(self._broadcast, [s[1:] for s in shapes]))

    def _check_count(self, shapes):
        owner = type(self).__name__
        low, high = self.min_inputs, self.max_inputs
        if len(shapes) < low or (high is not None and len(shapes) > high):
            count = f"exactly {low}" if low == high else f"at least {low}"
            raise InvalidArgumentError(
                f"A {owner} layer merges a list of {count} tensors. Got {len(shapes)} "
                f"(shapes {shapes})."
            )
        return shapes

    def _broadcast(self, first, second):
        """Keras' elementwise output shape of two example shapes (no batch axis)."""
        if len(first) < len(second):
            first, second = second, first
        shape = list(first[: len(first) - len(second)])
        for a, b in zip(first[len(first) - len(second) :], second):
            if a is None or b is None:
                shape.append(None)
            elif a == 1 or b == 1 or a == b:
                shape.append(b if a == 1 else a)
            else:
                raise InvalidArgumentError(
                    f"A {type(self).__name__} layer needs inputs of broadcastable shapes. Got "
                    f"examples of shapes {first} and {second}."
                )
        return tuple(shape)


@registry.register("layer")
class Add(Merge):
    """Elementwise sum of the inputs.

    >>> import numpy as np
    >>> from netfleet.layers import Add
    >>> Add()([np.ones((2, 3)), np.full((2, 3), 2.0)]).numpy()
    array([[3., 3., 3.],
           [3., 3., 3.]], dtype=float32)
    """

    def merge(self, tensors):
        return functools.reduce(torch.add, tensors)


@registry.register("layer")
class Subtract(Merge):
    """The first input minus the second (exactly two inputs)."""

    min_inputs = max_inputs = 2

    def merge(self, tensors):
        return tensors[0] - tensors[1]


@registry.register("layer")
class Multiply(Merge):
    """Elementwise product of the inputs."""

    def merge(self, tensors):
        return functools.reduce(torch.mul, tensors)


@registry.register("layer")
class Average(Merge):
    """Elementwise mean of the inputs: their sum divided by their number."""

    def merge(self, tensors):
        return functools.reduce(torch.add, tensors) / len(tensors)


@registry.register("layer")
class Maximum(Merge):
    """Elementwise maximum of the inputs."""

    def merge(self, tensors):
        return functools.reduce(torch.maximum, tensors)


@registry.register("layer")
class Minimum(Merge):
    """Elementwise minimum of the inputs."""

    def merge(self, tensors):
        return functools.reduce(torch.minimum, tensors)


@registry.register("layer")
class Concatenate(ListInputs, Layer):
    """Joins the inputs along `axis`; every other axis must agree.

    Args:
        axis: The axis to join along, counting the batch axis as 0 as Keras does (so `1` is
            the first axis of an example and `-1` the last). Defaults to `-1`.

    Shape:
        a list of `(M or 1, batch, ..., d_i, ...)` → `(M, batch, ..., sum of d_i, ...)`.

    >>> from netfleet.layers import Concatenate
    >>> Concatenate().compute_output_shape([(None, 3), (None, 5)])
    (None, 8)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or axis == 0:
            raise argument_error(
                "axis", "Concatenate", "an integer axis other than the batch axis 0", axis
            )
        self.axis = int(axis)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs, training=False):
        tensors = _as_list(inputs)
        members = max(t.shape[0] for t in tensors)
        tensors = [t.expand(members, *t.shape[1:]) for t in tensors]
        return torch.cat(tensors, dim=self.axis + 1 if self.axis > 0 else self.axis)

    def compute_output_shape(self, input_shape):
        shapes = _input_shapes(input_shape)
        rank = len(shapes[0])
        if not -rank <= self.axis < rank or any(len(s) != rank for s in shapes):
            raise InvalidArgumentError(
                f"Concatenate(axis={self.axis}) needs inputs of one rank that has that axis. "
                f"Got inputs of shapes {shapes}."
            )
        axis = self.axis % rank
        shape = list(shapes[0])
        for other in shapes[1:]:
            for d in range(1, rank):
                if d != axis and None not in (shape[d], other[d]) and shape[d] != other[d]:
                    raise InvalidArgumentError(
                        f"Concatenate(axis={self.axis}) needs inputs whose shapes agree on every "
                        f"axis but the concatenation axis. Got inputs of shapes {shapes}."
                    )
                if shape[d] is None:
                    shape[d] = other[d]
        sizes = [s[axis] for s in shapes]
        shape[axis] = None if None in sizes else sum(sizes)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def concatenate(inputs, axis=-1, **kwargs):
    """`Concatenate(axis=axis, **kwargs)(inputs)`: the inputs joined along `axis`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    """`Add(**kwargs)(inputs)`: the elementwise sum of the inputs."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """`Subtract(**kwargs)(inputs)`: the first input minus the second."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """`Multiply(**kwargs)(inputs)`: the elementwise product of the inputs."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """`Average(**kwargs)(inputs)`: the elementwise mean of the inputs."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """`Maximum(**kwargs)(inputs)`: the elementwise maximum of the inputs."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """`Minimum(**kwargs)(inputs)`: the elementwise minimum of the inputs."""
    return Minimum(**kwargs)(inputs)
