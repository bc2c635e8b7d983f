"""Keras-style automatic names (`dense`, `dense_1`, ...), reset by `clear_session()`."""

import collections
import re

_counts = collections.Counter()


def snake_case(name):
    """Keras' conversion of a class name: `Dense` -> `dense`, `Conv2D` -> `conv2d`,
    `MaxPooling2D` -> `max_pooling2d`, `BatchNormalization` -> `batch_normalization`."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique(prefix):
    count = _counts[prefix]
    _counts[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def reset():
    _counts.clear()
