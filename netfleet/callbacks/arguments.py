"""Checks of callback arguments, each failing with the library's one error sentence before
any training starts."""

import math
import numbers
import os

import numpy as np

from netfleet.errors import InvalidTypeError, argument_error


def path(value, name, owner):
    """`value` as a path string, if it is a non-empty str or path-like object."""
    try:
        text = os.fspath(value)
    except TypeError:
        raise argument_error(
            name, owner, "a path (str or os.PathLike)", value, error=InvalidTypeError
        ) from None
    if not isinstance(text, str) or not text:
        raise argument_error(name, owner, "a non-empty path (str or os.PathLike)", value)
    return text


def flag(value, name, owner):
    """`value` as a bool, if it is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise argument_error(name, owner, "True or False", value, error=InvalidTypeError)
    return bool(value)


def number(value, name, owner, *, optional=False):
    """`value` as a float, if it is a real number (or None when `optional`)."""
    if optional and value is None:
        return None
    real = not isinstance(value, bool) and isinstance(value, numbers.Real)
    if not real or math.isnan(value):
        expected = "a number or None" if optional else "a number"
        raise argument_error(name, owner, expected, value)
    return float(value)


def text(value, name, owner):
    """`value`, if it is a non-empty string."""
    if not isinstance(value, str) or not value:
        raise argument_error(name, owner, "a non-empty string", value)
    return value
