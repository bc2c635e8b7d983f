"""Keras-style automatic names (`dense`, `dense_1`, ...), reset by `clear_session()`."""

import collections
import re

_counts = collections.Counter()


def snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def unique(prefix):
    count = _counts[prefix]
    _counts[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def reset():
    _counts.clear()
