"""netfleet's error types and the one sentence template its argument checks use."""

import difflib
import numbers


class NetfleetError(Exception):
    """Base of every error netfleet raises on purpose."""


class InvalidArgumentError(NetfleetError, ValueError):
    """An argument has a value netfleet cannot use."""


class InvalidTypeError(NetfleetError, TypeError):
    """An argument has a type netfleet cannot use."""


class NotBuiltError(NetfleetError, ValueError):
    """The model's input shape is not known yet, so its weights do not exist."""


class ModelFileError(NetfleetError, ValueError):
    """A saved model file is damaged or was not written by netfleet."""


def argument_error(name, owner, expected, got, *, error=InvalidArgumentError):
    """Build the error for a bad argument with netfleet's one sentence template.

    >>> str(argument_error("learning_rate", "Adam", "a float > 0", -0.1))
    "The 'learning_rate' argument of Adam must be a float > 0. Got -0.1."
    """
    return error(f"The '{name}' argument of {owner} must be {expected}. Got {got!r}.")


def unknown_name_error(kind, name, valid):
    """Build the error for an unknown identifier, listing valid names and a did-you-mean."""
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return InvalidArgumentError(
        f"Unknown {kind} {name!r}.{hint} Valid names: {', '.join(sorted(valid))}."
    )


def check_positive_int(value, name, owner, *, minimum=1):
    """Return `value` if it is an int >= minimum, else raise the standard error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise argument_error(name, owner, f"an integer >= {minimum}", value)
    return int(value)


def check_bool(value, name, owner):
    """Return `value` if it is True or False, else raise the standard error."""
    if not isinstance(value, bool):
        raise argument_error(name, owner, "True or False", value)
    return value
