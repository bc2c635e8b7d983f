"""Compile's per-output settings read against the model's outputs: one value for every
output, a list with one entry per output (in the model's order), or a dict by output name,
as Keras takes them. Each function returns one entry per output name."""

import difflib

from netfleet.errors import InvalidArgumentError


def as_list(entry):
    """A metric entry as a list: None is none, a list or tuple its items, else itself."""
    if entry is None:
        return []
    return list(entry) if isinstance(entry, (list, tuple)) else [entry]


def _describe(names):
    return ", ".join(repr(name) for name in names)


def _check_keys(mapping, names, argument):
    for key in mapping:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InvalidArgumentError(
                f"The '{argument}' argument of compile names the output {key!r}, which the "
                f"model does not have.{hint} The model's outputs: {_describe(names)}."
            )


def _check_length(entries, names, argument, what):
    if len(entries) != len(names):
        raise InvalidArgumentError(
            f"The '{argument}' argument of compile must have one {what} per output of the "
            f"model ({len(names)}: {_describe(names)}), or be a dict by output name. Got a "
            f"list of {len(entries)}."
        )


def output_losses(loss, names):
    """Each output's `Loss`: `loss` itself for all, or its entry for each (every output
    needs one)."""
    if isinstance(loss, dict):
        _check_keys(loss, names, "loss")
        missing = [name for name in names if name not in loss]
        if missing:
            raise InvalidArgumentError(
                f"The 'loss' argument of compile has no loss for the outputs "
                f"{_describe(missing)}: a loss dict needs one for every output "
                f"({_describe(names)})."
            )
        return [loss[name] for name in names]
    if isinstance(loss, list):
        _check_length(loss, names, "loss", "loss")
        return loss
    return [loss] * len(names)


def output_weights(weights, names):
    """Each output's loss weight: 1 by default and for outputs a dict leaves out."""
    if weights is None:
        return [1.0] * len(names)
    if isinstance(weights, dict):
        _check_keys(weights, names, "loss_weights")
        return [weights.get(name, 1.0) for name in names]
    if isinstance(weights, list):
        _check_length(weights, names, "loss_weights", "weight")
        return weights
    if len(names) != 1:
        _check_length([weights], names, "loss_weights", "weight")
    return [weights]


def output_metrics(ids, names, argument="metrics"):
    """Each output's metric list: a dict gives them by name, a list with one entry per output
    (of a model with several) gives one each (Keras 3), any other list applies to every
    output. `argument` is compile's argument (`metrics` or `weighted_metrics`), for errors."""
    if isinstance(ids, dict):
        _check_keys(ids, names, argument)
        return [list(ids.get(name, [])) for name in names]
    if len(names) == 1:
        return [[identifier for entry in ids for identifier in as_list(entry)]]
    if len(ids) == len(names):
        return [as_list(entry) for entry in ids]
    if any(entry is None or isinstance(entry, list) for entry in ids):
        _check_length(ids, names, argument, "entry")
    return [list(ids) for _ in names]
