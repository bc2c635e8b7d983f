"""Normalization layers: BatchNormalization (per-member moving statistics), LayerNormalization
and Normalization (feature statistics learnt by `adapt`), with Keras' defaults and formulas.

`axis` counts the batch axis as Keras does (`-1` is the last axis of `(batch, ...)`); the
member axis in front of it is netfleet's own and never named by users.
"""

import math
import numbers

import numpy as np
import torch

from netfleet import initializers, registry
from netfleet.errors import InvalidArgumentError, InvalidTypeError, argument_error
from netfleet.layers.base import Layer
from netfleet.ops import context

KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): Normalization's floor on the deviation


def _axes(axis, owner):
    """`axis` (an int or a sequence of ints, never the batch axis 0) as a tuple."""
    values = (axis,) if isinstance(axis, numbers.Integral) else axis
    expected = "an integer axis other than the batch axis 0, or a list of them"
    try:
        values = tuple(values)
    except TypeError:
        raise argument_error("axis", owner, expected, axis) from None
    if not values or not all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) and a != 0 for a in values
    ):
        raise argument_error("axis", owner, expected, axis)
    return tuple(int(a) for a in values)


def _positive_axes(axes, input_shape, owner):
    """`axes` as sorted positive indices into `input_shape` (batch axis 0), each known."""
    rank = len(input_shape)
    if any(not -rank <= a < rank for a in axes):
        raise InvalidArgumentError(
            f"{owner} normalizes along axis {list(axes)}, which inputs of shape "
            f"{tuple(input_shape)} do not have."
        )
    positive = sorted({a % rank for a in axes})
    if 0 in positive or any(input_shape[a] is None for a in positive):
        raise InvalidArgumentError(
            f"{owner} needs the axes it keeps ({list(axes)}) to be known axes other than the "
            f"batch axis. Got inputs of shape {tuple(input_shape)}."
        )
    return tuple(positive)


def _member_view(weight, input_shape, axes):
    """A `(M, *kept)` weight shaped to broadcast against `(M, batch, ...)` activations."""
    shape = [input_shape[d] if d in axes else 1 for d in range(len(input_shape))]
    return weight.reshape(weight.shape[0], *shape)


def _check_flag(value, name, owner):
    if not isinstance(value, bool):
        raise argument_error(name, owner, "True or False", value)
    return value


def _check_real(value, name, owner, expected, valid):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not valid(value):
        raise argument_error(name, owner, expected, value)
    return float(value)


@registry.register("layer")
class BatchNormalization(Layer):
    """Normalizes each channel with the batch's statistics in training and with moving
    averages of them in inference, then scales by `gamma` and shifts by `beta`.

    Training (in `fit`, or called with `training=True`, unless the layer is frozen):
    `gamma * (x - mean(x)) / sqrt(var(x) + epsilon) + beta`, with the batch's mean and
    (biased) variance over every axis but `axis`, and then
    `moving = moving * momentum + batch_statistic * (1 - momentum)`. Inference (and a layer
    with `trainable=False`, as in Keras): the same with the moving mean and variance. Each
    member keeps its own moving statistics (non-trainable weights, saved and stacked).

    Args:
        axis: The channel axis (`-1`: channels last). Defaults to `-1`.
        momentum: Weight of the past in the moving averages. Defaults to `0.99`.
        epsilon: Added to the variance. Defaults to `1e-3`.
        center: Whether to add `beta`. Defaults to `True`.
        scale: Whether to multiply by `gamma`. Defaults to `True`.
        beta_initializer: Defaults to `"zeros"`.
        gamma_initializer: Defaults to `"ones"`.
        moving_mean_initializer: Defaults to `"zeros"`.
        moving_variance_initializer: Defaults to `"ones"`.

    Shape:
        `(M, batch, ..., channels)` → the same; weights `(M, channels)`.
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "BatchNormalization"
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or axis == 0:
            raise argument_error("axis", owner, "an integer axis other than the batch axis 0", axis)
        self.axis = int(axis)
        self.momentum = _check_real(
            momentum, "momentum", owner, "a float in [0, 1]", lambda v: 0 <= v <= 1
        )
        self.epsilon = _check_real(epsilon, "epsilon", owner, "a float > 0", lambda v: v > 0)
        self.center = _check_flag(center, "center", owner)
        self.scale = _check_flag(scale, "scale", owner)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape):
        (self._channel_axis,) = _positive_axes((self.axis,), input_shape, "BatchNormalization")
        shape = (input_shape[self._channel_axis],)
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer)
        self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", shape, self.moving_variance_initializer, trainable=False)
        self.built = True

    def call(self, inputs, training=False):
        channel = self._channel_axis + 1  # inputs carry the member axis in front
        shape = [1] * inputs.ndim
        shape[0], shape[channel] = -1, inputs.shape[channel]
        if (training or context.current().training) and self.trainable:
            others = tuple(d for d in range(1, inputs.ndim) if d != channel)
            variance, mean = torch.var_mean(inputs, dim=others, correction=0, keepdim=True)
            self._update_moving_statistics(mean, variance, channel)
        else:
            mean = self.moving_mean.reshape(shape)
            variance = self.moving_variance.reshape(shape)
        inverse = torch.rsqrt(variance + self.epsilon)
        if self.scale:
            inverse = inverse * self.gamma.reshape(shape)
        shift = -mean * inverse
        if self.center:
            shift = shift + self.beta.reshape(shape)
        return inputs * inverse + shift

    def _update_moving_statistics(self, mean, variance, channel):
        """Keras' `moving = moving * momentum + batch * (1 - momentum)`, for every member the
        step trains (the forward context's `active`): a stopped member's stay as they are."""
        active = context.current().active
        with torch.no_grad():
            for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
                batch = batch.detach().movedim(channel, -1).reshape(batch.shape[0], -1)
                updated = moving * self.momentum + batch * (1.0 - self.momentum)
                if active is not None:
                    updated = torch.where(active.unsqueeze(1), updated, moving)
                moving.copy_(updated)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
        }


@registry.register("layer")
class LayerNormalization(Layer):
    """Normalizes each example over `axis` with its own mean and (biased) variance:
    `gamma * (x - mean) / sqrt(var + epsilon) + beta`, the same in training and inference.

    Args:
        axis: The axis or axes to normalize over. Defaults to `-1`.
        epsilon: Added to the variance. Defaults to `1e-3`.
        center: Whether to add `beta`. Defaults to `True`.
        scale: Whether to multiply by `gamma`. Defaults to `True`.
        beta_initializer: Defaults to `"zeros"`.
        gamma_initializer: Defaults to `"ones"`.

    Shape:
        `(M, batch, ...)` → the same; weights `(M, *sizes of axis)`.
    """

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "LayerNormalization"
        self._axes = _axes(axis, owner)
        self.axis = list(self._axes) if isinstance(axis, (list, tuple)) else self._axes[0]
        self.epsilon = _check_real(epsilon, "epsilon", owner, "a float > 0", lambda v: v > 0)
        self.center = _check_flag(center, "center", owner)
        self.scale = _check_flag(scale, "scale", owner)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def build(self, input_shape):
        self._kept = _positive_axes(self._axes, input_shape, "LayerNormalization")
        self._input_shape = tuple(input_shape)
        shape = tuple(input_shape[a] for a in self._kept)
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer)
        self.built = True

    def call(self, inputs, training=False):
        dims = tuple(a + 1 for a in self._kept)
        variance, mean = torch.var_mean(inputs, dim=dims, correction=0, keepdim=True)
        inverse = torch.rsqrt(variance + self.epsilon)
        if self.scale:
            inverse = inverse * _member_view(self.gamma, self._input_shape, self._kept)
        shift = -mean * inverse
        if self.center:
            shift = shift + _member_view(self.beta, self._input_shape, self._kept)
        return inputs * inverse + shift

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
        }


@registry.register("layer")
class Normalization(Layer):
    """Shifts and scales features to mean 0 and variance 1 with statistics given or learnt
    from data by `adapt`: `(x - mean) / max(sqrt(variance), 1e-7)`, or with `invert=True`
    `mean + x * max(sqrt(variance), 1e-7)`.

    Args:
        axis: The axis or axes that keep their own statistics (`None`: one mean and variance
            for everything). Defaults to `-1`.
        mean: Fixed mean, broadcast over the kept axes (with `variance`, instead of `adapt`).
        variance: Fixed variance, as `mean`.
        invert: Whether to undo the normalization instead. Defaults to `False`.

    Shape:
        `(M, batch, ...)` → the same; adapted weights `mean`, `variance` `(M, *kept sizes)`
        and `count` (values each statistic was computed from), all non-trainable.

    >>> import numpy as np
    >>> from netfleet.layers import Normalization
    >>> layer = Normalization(axis=None)
    >>> layer.adapt(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    >>> layer(np.array([1.0, 2.0, 3.0])).numpy().round(4)
    array([-1.4142, -0.7071,  0.    ], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        owner = "Normalization"
        self._axes = () if axis is None else _axes(axis, owner)
        self.axis = axis if axis is None or isinstance(axis, numbers.Integral) else list(axis)
        if (mean is None) != (variance is None):
            raise argument_error(
                "variance" if variance is None else "mean",
                owner,
                "given together with the other of mean and variance",
                None,
            )
        if mean is not None:
            mean, variance = (np.asarray(v, dtype=np.float64) for v in (mean, variance))
            if mean.shape != variance.shape or mean.ndim > len(self._axes):
                raise argument_error(
                    "variance",
                    owner,
                    f"of the shape of 'mean' {mean.shape}, with at most one axis per kept axis",
                    variance.tolist(),
                )
        self.input_mean, self.input_variance = mean, variance
        self.invert = _check_flag(invert, "invert", owner)

    def build(self, input_shape):
        self._input_shape = tuple(input_shape)
        self._kept = _positive_axes(self._axes, input_shape, "Normalization") if self._axes else ()
        shape = tuple(input_shape[a] for a in self._kept)
        if self.input_mean is None:
            self.add_weight("mean", shape, "zeros", trainable=False)
            self.add_weight("variance", shape, "ones", trainable=False)
            self.add_weight("count", (), "zeros", trainable=False)
        else:
            self._fixed = [self._fixed_statistic(v) for v in (self.input_mean, self.input_variance)]
        self.built = True

    def _fixed_statistic(self, value):
        """A given mean or variance broadcast to the kept axes (aligned from the right, as
        in Keras), shaped to broadcast against `(M, batch, ...)` activations."""
        kept_sizes = tuple(self._input_shape[a] for a in self._kept)
        try:
            tensor = torch.as_tensor(value, dtype=torch.float32).expand(kept_sizes)
        except RuntimeError:
            raise argument_error(
                "mean",
                "Normalization",
                f"broadcastable to the kept axes {list(self._kept)} of inputs {self._input_shape}",
                value.tolist(),
            ) from None
        return _member_view(tensor.unsqueeze(0), self._input_shape, self._kept)

    def adapt(self, data):
        """Learn every member's mean and (biased) variance from `data`: an array (NumPy,
        pandas, torch) of examples, or an iterable of such batches (an `(x, y)` tuple
        reads `x`)."""
        if self.input_mean is not None:
            raise InvalidArgumentError(
                "Normalization.adapt cannot change a mean and variance given to the constructor."
            )
        batches = _batches(data)
        first = next(batches, None)
        if first is None:
            raise argument_error("data", "Normalization.adapt", "at least one batch", data)
        self.ensure_built((None, *first.shape[1:]))
        count, mean, squares = 0, 0.0, 0.0  # Chan et al.'s merge of batch statistics
        for batch in _chain(first, batches):
            self._check_batch(batch)
            reduce = tuple(d for d in range(batch.ndim) if d not in self._kept)
            size = math.prod(batch.shape[d] for d in reduce)
            batch_mean = batch.mean(axis=reduce, keepdims=True)
            batch_squares = ((batch - batch_mean) ** 2).sum(axis=reduce)
            delta = batch_mean.reshape(batch_squares.shape) - mean
            total = count + size
            mean = mean + delta * size / total
            squares = squares + batch_squares + delta**2 * count * size / total
            count = total
        with torch.no_grad():
            for weight, value in ((self.mean, mean), (self.variance, squares / count)):
                weight.copy_(torch.as_tensor(value, dtype=torch.float32).expand_as(weight))
            self.count.fill_(count)

    def _check_batch(self, batch):
        shape = tuple(batch.shape)
        if len(shape) != len(self._input_shape) or any(
            shape[d] != self._input_shape[d] for d in self._kept
        ):
            raise InvalidArgumentError(
                f"Normalization '{self.name}' is built for inputs of shape {self._input_shape}. "
                f"Got data of shape {shape}."
            )

    def call(self, inputs, training=False):
        if self.input_mean is None:
            mean = _member_view(self.mean, self._input_shape, self._kept)
            variance = _member_view(self.variance, self._input_shape, self._kept)
        else:
            mean, variance = self._fixed
        deviation = torch.sqrt(variance).clamp_min(KERAS_EPSILON)
        if self.invert:
            return mean + inputs * deviation
        return (inputs - mean) / deviation

    def get_config(self):
        fixed = self.input_mean is not None
        return {
            **super().get_config(),
            "axis": self.axis,
            "mean": self.input_mean.tolist() if fixed else None,
            "variance": self.input_variance.tolist() if fixed else None,
            "invert": self.invert,
        }


def _batches(data):
    """An iterator of float64 NumPy batches from an array or an iterable of batches."""
    if torch.is_tensor(data) or isinstance(data, np.ndarray) or hasattr(data, "to_numpy"):
        return iter([_float_array(data)])
    try:
        iterator = iter(data)
    except TypeError:
        raise InvalidTypeError(
            "The 'data' argument of Normalization.adapt must be an array (NumPy, pandas, torch) "
            f"or an iterable of batches. Got {type(data).__name__}."
        ) from None
    return (_float_array(b[0] if isinstance(b, tuple) else b) for b in iterator)


def _float_array(value):
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    elif hasattr(value, "to_numpy"):
        value = value.to_numpy()
    return np.asarray(value, dtype=np.float64)


def _chain(first, rest):
    yield first
    yield from rest
