"""Users' data for models with several inputs or outputs: a list with one array per input
(output), in the model's order, or a dict by input (output) name, as Keras takes them.

Each function returns `(label, value)` pairs in the model's order; the label (`x`, `x[1]`,
`x['deep']`) is what error messages call the array.
"""

import difflib

from netfleet.errors import InvalidArgumentError, InvalidTypeError


def is_array(value):
    """Whether `value` is one array (NumPy, torch, pandas), not a list of arrays."""
    return hasattr(value, "shape") or hasattr(value, "to_numpy")


def _batch_array(value):
    """Whether `value` is an array of several examples (2-D or more), not one example."""
    return is_array(value) and len(getattr(value, "shape", ())) >= 2


def by_input(x, names, argument, owner):
    """`x` for a model with inputs `names`, as one `(label, array)` pair per input."""
    return _match(x, names, argument, owner, "input", "arrays")


def by_output(y, names, argument, owner):
    """`y` for a model with outputs `names`, as one `(label, array)` pair per output."""
    return _match(y, names, argument, owner, "output", "target arrays")


def weights_by_output(sample_weight, names, owner):
    """`sample_weight` for each output: one array for all outputs, or a list or dict of them
    (one per output); each pair's value may be None."""
    several = len(names) > 1
    if sample_weight is None:
        return [("sample_weight", None)] * len(names)
    per_output = isinstance(sample_weight, dict) or (
        several
        and isinstance(sample_weight, (list, tuple))
        and len(sample_weight) == len(names)
        and all(value is None or is_array(value) for value in sample_weight)
    )
    if per_output:
        return _match(sample_weight, names, "sample_weight", owner, "output", "weight arrays", True)
    return [("sample_weight", sample_weight)] * len(names)


def _match(value, names, argument, owner, kind, things, optional=False):
    """The pairs for `value`; `optional`: a dict may leave out some names (None for them)."""
    if isinstance(value, dict):
        return _from_dict(value, names, argument, owner, kind, optional)
    if len(names) == 1:
        if isinstance(value, (list, tuple)) and len(value) == 1 and _batch_array(value[0]):
            value = value[0]  # a list holding the one array (a list of examples stays one)
        return [(argument, value)]
    if not isinstance(value, (list, tuple)) or len(value) != len(names):
        got = (
            f"a {type(value).__name__} of {len(value)}"
            if isinstance(value, (list, tuple))
            else f"an array of shape {getattr(value, 'shape', None)}"
            if is_array(value)
            else repr(value)
        )
        raise InvalidArgumentError(
            f"The '{argument}' argument of {owner} must be a list of {len(names)} {things}, "
            f"one per {kind} of the model ({_describe(names)}), or a dict by {kind} name. "
            f"Got {got}."
        )
    return [(f"{argument}[{i}]", item) for i, item in enumerate(value)]


def _from_dict(value, names, argument, owner, kind, optional):
    for key in value:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            error = InvalidArgumentError if isinstance(key, str) else InvalidTypeError
            raise error(
                f"The '{argument}' argument of {owner} has the key {key!r}, which is not an "
                f"{kind} of the model.{hint} The model's {kind}s: {_describe(names)}."
            )
    missing = [name for name in names if name not in value]
    if missing and not optional:
        raise InvalidArgumentError(
            f"The '{argument}' argument of {owner} has no array for the model's {kind}s "
            f"{_describe(missing)}. Give one for each: {_describe(names)}."
        )
    return [(f"{argument}[{name!r}]", value.get(name)) for name in names]


def _describe(names):
    return ", ".join(repr(name) for name in names)
