"""JSON read from a file that may be hostile: bounded in size and nesting, no key given twice,
and every failure an error of the caller's making (never a `RecursionError`).

Example:
    >>> from netfleet.errors import ModelFileError
    >>> def error(problem):
    ...     return ModelFileError(f"The config.json of model.keras {problem}.")
    >>> parse(b'{"units": 3}', 100, error)
    {'units': 3}
    >>> parse(b"[" * 100 + b"]" * 100, 1000, error)
    Traceback (most recent call last):
    ...
    netfleet.errors.ModelFileError: The config.json of model.keras nests deeper than 64 levels.
"""

import json
import reprlib

from netfleet.saving import limits

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxdict = 8
_SHORT.maxlevel = 3


def parse(raw, max_bytes, error):
    """The JSON value in the bytes `raw`.

    Args:
        raw: UTF-8 JSON text, as bytes.
        max_bytes: The longest `raw` to parse.
        error: Makes the exception to raise from a problem, e.g. "is not valid JSON: ...".

    Raises:
        What `error` makes: `raw` is longer than `max_bytes`, is not UTF-8 JSON, gives a key
            twice in one object or nests deeper than `limits.MAX_JSON_DEPTH`.
    """
    if len(raw) > max_bytes:
        raise error(f"is {len(raw)} bytes long, more than the {max_bytes} bytes netfleet reads")
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except RecursionError:
        raise _too_deep(error) from None
    except ValueError as problem:  # bad UTF-8 or JSON, a repeated key, a 5000-digit integer
        raise error(f"is not valid JSON: {problem}") from None
    _check_depth(value, error)
    return value


def brief(value):
    """A repr of `value` cut to a readable length, for messages about what a file holds."""
    return _SHORT.repr(value)


def _unique_keys(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {brief(repeated)} is given twice in one object")
    return obj


def _check_depth(value, error):
    """Walk `value` without recursion; refuse it if it nests deeper than the limit."""
    pending = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        if depth > limits.MAX_JSON_DEPTH:
            raise _too_deep(error)
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _too_deep(error):
    return error(f"nests deeper than {limits.MAX_JSON_DEPTH} levels")
