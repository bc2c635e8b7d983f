"""Turning users' arrays (NumPy, pandas, torch, lists) into checked tensors, once per call.

Every check runs before any training, and its error names the argument, what was given
and what was expected.
"""

import numpy as np
import torch

from netfleet.errors import InvalidArgumentError, InvalidTypeError


def to_array(value, name, owner):
    """A NumPy view of `value` (no copy where possible), numeric and non-empty."""
    if value is None:
        raise InvalidArgumentError(f"The '{name}' argument of {owner} is required. Got None.")
    if torch.is_tensor(value):
        array = value.detach().cpu().numpy()
    elif hasattr(value, "to_numpy"):
        array = value.to_numpy()
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as err:
            raise InvalidTypeError(
                f"The '{name}' argument of {owner} must be an array of numbers. Got {err}."
            ) from None
    if array.dtype == bool:
        array = array.astype(np.float32)
    if not (np.issubdtype(array.dtype, np.number)):
        raise InvalidTypeError(
            f"The '{name}' argument of {owner} must hold numbers. Got dtype {array.dtype}."
        )
    if array.ndim == 0 or array.shape[0] == 0:
        raise InvalidArgumentError(
            f"The '{name}' argument of {owner} must hold at least one example. "
            f"Got an array of shape {array.shape}."
        )
    return array


def check_finite(array, name, owner):
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array.reshape(len(array), -1)))[0][0])
        raise InvalidArgumentError(
            f"The '{name}' argument of {owner} contains NaN or infinite values "
            f"(first in example {row}). Expected finite numbers."
        )


def _port(kind, port):
    """How messages name the model's input or output: `the model's input 'wide'`."""
    return f"the model's {kind}" if port is None else f"the model's {kind} {port!r}"


def features(value, name, owner, example_shape=None, port=None):
    """A float32 tensor of examples; checked against the model's example shape if known.

    Args:
        port: The name of the model's input these examples feed, for messages (models with
            several inputs). Defaults to None: the model's one input.
    """
    array = to_array(value, name, owner)
    check_finite(array, name, owner)
    if array.ndim == 1 and example_shape == (1,):
        array = array.reshape(-1, 1)
    if example_shape is not None and tuple(array.shape[1:]) != tuple(example_shape):
        expects = "the model expects" if port is None else f"{_port('input', port)} expects"
        raise InvalidArgumentError(
            f"The '{name}' argument of {owner} has examples of shape {tuple(array.shape[1:])} "
            f"(array shape {array.shape}), but {expects} examples of shape "
            f"{tuple(example_shape)}, i.e. arrays of shape "
            f"(n, {', '.join(map(str, example_shape))}).{_layout_hint(array, example_shape)}"
        )
    return torch.as_tensor(np.ascontiguousarray(array, dtype=np.float32))


def _layout_hint(array, example_shape):
    """A hint when images arrive channels first for a channels-last model (as Keras' and
    netfleet's layers expect): the same axes, the channel axis moved to the front."""
    shape, expected = tuple(array.shape[1:]), tuple(example_shape)
    if len(shape) < 2 or len(shape) != len(expected) or shape != (expected[-1], *expected[:-1]):
        return ""
    return (
        " These look like channels-first images; the model reads them channels last, as "
        "Keras does by default: use np.moveaxis(x, 1, -1)."
    )


def targets(value, name, owner, loss, output_shape, port=None):
    """Labels checked against what `loss` needs and the model's output `output_shape`
    (`port`: the output's name, for messages about models with several outputs)."""
    array = to_array(value, name, owner)
    check_finite(array, name, owner)
    units = output_shape[-1]
    if loss.labels == "integers":
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1 or np.any(array != np.round(array)):
            raise InvalidArgumentError(
                f"The '{name}' argument of {owner} must hold integer class labels of shape (n,) "
                f"for {loss.name}. Got shape {array.shape}"
                + (
                    "; it looks one-hot encoded: use loss='categorical_crossentropy'."
                    if array.ndim == 2
                    else "."
                )
            )
        if array.min() < 0 or array.max() >= units:
            raise InvalidArgumentError(
                f"The '{name}' argument of {owner} must hold labels in [0, {units - 1}] for a "
                f"{units}-unit output. Got labels from {array.min()} to {array.max()}."
            )
        return torch.as_tensor(array.astype(np.int64))
    if array.ndim == 1 and tuple(output_shape) == (1,):
        array = array.reshape(-1, 1)
    if tuple(array.shape[1:]) != tuple(output_shape):
        hint = ""
        if loss.labels == "one_hot" and array.ndim == 1:
            hint = (
                f" These look like integer class labels: one-hot encode them with "
                f"to_categorical(y, {units}) or use loss='sparse_categorical_crossentropy'."
            )
        raise InvalidArgumentError(
            f"The '{name}' argument of {owner} has labels of shape {tuple(array.shape[1:])} "
            f"(array shape {array.shape}), but {_port('output', port)} has shape "
            f"{tuple(output_shape)} and {loss.name} needs labels of that shape.{hint}"
        )
    if loss.labels in ("one_hot", "probabilities") and (array.min() < 0 or array.max() > 1):
        raise InvalidArgumentError(
            f"The '{name}' argument of {owner} must hold values in [0, 1] for {loss.name}. "
            f"Got values from {array.min()} to {array.max()}."
        )
    return torch.as_tensor(np.ascontiguousarray(array, dtype=np.float32))


def one_hot_indices(y):
    """Class indices of one-hot labels `y` (n, C), or None if `y` is not exactly one-hot."""
    if y.ndim != 2 or y.shape[1] < 2:
        return None
    if not bool(((y == 0) | (y == 1)).all()) or not bool((y.sum(1) == 1).all()):
        return None
    return y.argmax(1)


def row_weights(sample_weight, class_weight, y, n, owner):
    """Per-example weights from `sample_weight` and/or `class_weight`, or None."""
    weights = None
    if sample_weight is not None:
        weights = to_array(sample_weight, "sample_weight", owner).astype(np.float32).reshape(-1)
        if len(weights) != n:
            raise InvalidArgumentError(
                f"The 'sample_weight' argument of {owner} must have one weight per example "
                f"({n}). Got {len(weights)}."
            )
        if (weights < 0).any() or not np.isfinite(weights).all():
            raise InvalidArgumentError(
                f"The 'sample_weight' argument of {owner} must hold finite weights >= 0."
            )
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise InvalidTypeError(
                f"The 'class_weight' argument of {owner} must be a dict {{class: weight}}. "
                f"Got {type(class_weight).__name__}."
            )
        labels = y.numpy()
        labels = (
            labels.argmax(-1) if labels.ndim == 2 and labels.shape[1] > 1 else labels.reshape(-1)
        )
        labels = np.round(labels).astype(np.int64)
        missing = sorted(set(np.unique(labels).tolist()) - set(class_weight))
        if missing:
            raise InvalidArgumentError(
                f"The 'class_weight' argument of {owner} has no weight for classes {missing}."
            )
        lookup = np.vectorize(lambda c: float(class_weight[c]))(labels).astype(np.float32)
        weights = lookup if weights is None else weights * lookup
    return None if weights is None else torch.as_tensor(weights)


def check_same_length(x, y, owner, x_name="x", y_name="y"):
    if len(x) != len(y):
        raise InvalidArgumentError(
            f"The '{x_name}' and '{y_name}' arguments of {owner} must have the same number of "
            f"examples. Got {len(x)} and {len(y)}."
        )
