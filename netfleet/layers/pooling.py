"""Pooling layers: max and average over windows (MaxPooling1D/2D, AveragePooling1D/2D) and
over whole examples (GlobalMaxPooling1D/2D, GlobalAveragePooling1D/2D), channels last.

Pooling acts on each channel alone, so the member axis folds into the channels and every
member pools in one call (`netfleet.layers.spatial`); in the fused training step
(`PoolingStage`) the window poolings call torch's pooling backward directly.
"""

import math

import torch
import torch.nn.functional as F

from netfleet import registry
from netfleet.errors import argument_error
from netfleet.layers import spatial
from netfleet.layers.base import Layer

_TORCH_POOL = {
    ("max", 1): F.max_pool1d,
    ("max", 2): F.max_pool2d,
    ("average", 1): F.avg_pool1d,
    ("average", 2): F.avg_pool2d,
}


class Pooling(Layer):
    """Base of the window poolings: `kind` ("max" or "average") over `rank` spatial axes.

    Args:
        pool_size: Window size: an int for every axis or a tuple of `rank`.
        strides: Step of the window. Defaults to `None` (`pool_size`).
        padding: `"valid"` (windows inside the input) or `"same"` (output size
            `ceil(size / strides)`, the odd padding at the end; padded positions never
            count: a max ignores them, an average divides by the real positions only,
            as in Keras). Defaults to `"valid"`.
        data_format: Only `"channels_last"` (Keras' default). Defaults to `None`.
    """

    kind = None
    rank = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = spatial.int_tuple(pool_size, self.rank, "pool_size", owner)
        self.strides = (
            self.pool_size
            if strides is None
            else spatial.int_tuple(strides, self.rank, "strides", owner)
        )
        self.padding = spatial.padding_mode(padding, owner)
        spatial.check_channels_last(data_format, owner)

    def build(self, input_shape):
        spatial.check_spatial_rank(input_shape, self.rank, type(self).__name__)
        self.built = True

    def call(self, inputs, training=False):
        lead = inputs.shape[0]
        x = spatial.fold_members(inputs)
        pool = _TORCH_POOL[(self.kind, self.rank)]
        if self.padding == "valid":
            return spatial.unfold_members(pool(x, self.pool_size, self.strides), lead)
        pads = [
            spatial.same_padding(n, k, s, 1)
            for n, k, s in zip(x.shape[2:], self.pool_size, self.strides)
        ]
        if self.kind == "max":
            padded = spatial.pad_spatial(x, pads, value=-math.inf)
            return spatial.unfold_members(pool(padded, self.pool_size, self.strides), lead)
        means = pool(spatial.pad_spatial(x, pads), self.pool_size, self.strides)
        real = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        share = pool(spatial.pad_spatial(real, pads), self.pool_size, self.strides)
        return spatial.unfold_members(means / share, lead)

    def stage(self, first, logits):
        if self.kind == "average" and self.padding == "same":
            return None  # the count of real positions per window: left to autograd
        return PoolingStage(self)

    def compute_output_shape(self, input_shape):
        lengths = [
            spatial.output_length(n, k, s, 1, self.padding)
            for n, k, s in zip(input_shape[1:-1], self.pool_size, self.strides)
        ]
        if any(n is not None and n < 1 for n in lengths):
            raise argument_error(
                "pool_size",
                type(self).__name__,
                f"no larger than the inputs {tuple(input_shape)} (with padding='valid')",
                self.pool_size,
            )
        return (input_shape[0], *lengths, input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": "channels_last",
        }


class PoolingStage:
    """A window pooling's fast path, through torch's 2D pooling kernels and their backward
    (a 1D pooling is a 2D one of height 1); a "same" max pooling pads with -inf first.

    Its outputs, a max pooling's indices and its input gradients are written into tensors
    it keeps from step to step (one set per batch shape): a fleet's activations are large,
    and fresh tensors that large cost more in first-touch page faults than the pooling.
    """

    weights = ()

    def __init__(self, layer):
        self.layer = layer
        self.window = (1,) * (2 - layer.rank) + layer.pool_size
        self.strides = (1,) * (2 - layer.rank) + layer.strides
        self.outputs, self.input_grads = {}, {}

    def forward(self, x):
        layer = self.layer
        self.lead = x.shape[0]
        folded = spatial.fold_members(x)
        self.pads = None
        if layer.padding == "same":
            self.pads = [
                spatial.same_padding(n, k, s, 1)
                for n, k, s in zip(folded.shape[2:], layer.pool_size, layer.strides)
            ]
            folded = spatial.pad_spatial(folded, self.pads, value=-math.inf)
        self.x = folded if layer.rank == 2 else folded.unsqueeze(2)
        y = self._pool(self.x)
        return spatial.unfold_members(y if layer.rank == 2 else y.squeeze(2), self.lead)

    def _pool(self, x):
        key = (x.shape, x.stride())
        kept = self.outputs.get(key)
        if self.layer.kind == "average":
            if kept is None:
                kept = self.outputs[key] = F.avg_pool2d(x, self.window, self.strides)
            else:
                torch.ops.aten.avg_pool2d.out(x, self.window, self.strides, out=kept)
            return kept
        if kept is None:
            kept = self.outputs[key] = F.max_pool2d(
                x, self.window, self.strides, return_indices=True
            )
        else:
            torch.ops.aten.max_pool2d_with_indices.out(
                x, self.window, self.strides, out=kept[0], indices=kept[1]
            )
        self.indices = kept[1]
        return kept[0]

    def backward(self, grad):
        layer = self.layer
        grad = spatial.fold_members(grad)
        grad = grad if layer.rank == 2 else grad.unsqueeze(2)
        key = (self.x.shape, self.x.stride())
        if key not in self.input_grads:
            self.input_grads[key] = torch.empty_like(self.x)
        grad_input = self.input_grads[key]
        if layer.kind == "max":
            torch.ops.aten.max_pool2d_with_indices_backward.grad_input(
                grad,
                self.x,
                self.window,
                self.strides,
                (0, 0),
                (1, 1),
                False,
                self.indices,
                grad_input=grad_input,
            )
        else:
            torch.ops.aten.avg_pool2d_backward.grad_input(
                grad,
                self.x,
                self.window,
                self.strides,
                (0, 0),
                False,
                True,
                None,
                grad_input=grad_input,
            )
        grad_input = grad_input if layer.rank == 2 else grad_input.squeeze(2)
        if self.pads is not None:  # the -inf added before pooling
            grad_input = spatial.crop_spatial(grad_input, self.pads)
        return spatial.unfold_members(grad_input, self.lead)


@registry.register("layer")
class MaxPooling1D(Pooling):
    """Largest value of each window of `pool_size` steps (defaults: 2, strides = pool_size).

    Shape:
        `(M, batch, steps, channels)` → `(M, batch, new_steps, channels)`.
    """

    kind, rank = "max", 1


@registry.register("layer")
class MaxPooling2D(Pooling):
    """Largest value of each `pool_size` window (defaults: (2, 2), strides = pool_size).

    Shape:
        `(M, batch, height, width, channels)` → `(M, batch, new_height, new_width, channels)`.

    >>> from netfleet.layers import MaxPooling2D
    >>> MaxPooling2D().compute_output_shape((None, 26, 26, 32))
    (None, 13, 13, 32)
    """

    kind, rank = "max", 2

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(pool_size, strides, padding, **kwargs)


@registry.register("layer")
class AveragePooling1D(Pooling):
    """Mean of each window of `pool_size` steps (defaults: 2, strides = pool_size).

    Shape:
        `(M, batch, steps, channels)` → `(M, batch, new_steps, channels)`.
    """

    kind, rank = "average", 1


@registry.register("layer")
class AveragePooling2D(Pooling):
    """Mean of each `pool_size` window (defaults: (2, 2), strides = pool_size).

    Shape:
        `(M, batch, height, width, channels)` → `(M, batch, new_height, new_width, channels)`.
    """

    kind, rank = "average", 2

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(pool_size, strides, padding, **kwargs)


class GlobalPooling(Layer):
    """Base of the global poolings: `reduce` over every spatial axis of each example.

    Args:
        data_format: Only `"channels_last"` (Keras' default). Defaults to `None`.
        keepdims: Whether to keep the spatial axes with length 1. Defaults to `False`.
    """

    rank = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        spatial.check_channels_last(data_format, type(self).__name__)
        if not isinstance(keepdims, bool):
            raise argument_error("keepdims", type(self).__name__, "True or False", keepdims)
        self.keepdims = keepdims

    def build(self, input_shape):
        spatial.check_spatial_rank(input_shape, self.rank, type(self).__name__)
        self.built = True

    def call(self, inputs, training=False):
        axes = tuple(range(2, 2 + self.rank))
        return self.reduce(inputs, axes)

    def reduce(self, inputs, axes):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0], *([1] * self.rank), input_shape[-1])
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last", "keepdims": self.keepdims}


class _GlobalAverage(GlobalPooling):
    def reduce(self, inputs, axes):
        return inputs.mean(dim=axes, keepdim=self.keepdims)


class _GlobalMax(GlobalPooling):
    def reduce(self, inputs, axes):
        return inputs.amax(dim=axes, keepdim=self.keepdims)


@registry.register("layer")
class GlobalAveragePooling1D(_GlobalAverage):
    """Mean over the steps: `(M, batch, steps, channels)` → `(M, batch, channels)`."""

    rank = 1


@registry.register("layer")
class GlobalAveragePooling2D(_GlobalAverage):
    """Mean over height and width: `(M, batch, height, width, channels)` →
    `(M, batch, channels)`."""

    rank = 2


@registry.register("layer")
class GlobalMaxPooling1D(_GlobalMax):
    """Largest value over the steps: `(M, batch, steps, channels)` → `(M, batch, channels)`."""

    rank = 1


@registry.register("layer")
class GlobalMaxPooling2D(_GlobalMax):
    """Largest value over height and width: `(M, batch, height, width, channels)` →
    `(M, batch, channels)`."""

    rank = 2
