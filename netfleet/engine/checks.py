"""The checks of `fit`, `evaluate` and `predict` arguments that are not data: each bad
value is refused before any work, with the argument's name, what was expected and what came."""

import numpy as np
import torch

from netfleet.callbacks.base import Callback
from netfleet.engine import sources
from netfleet.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    argument_error,
    check_positive_int,
)


def check_verbose(verbose, owner):
    """`verbose` as 0, 1 or 2 ("auto" is 1)."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise argument_error("verbose", owner, "0, 1, 2 or 'auto'", verbose)
    return verbose


def check_steps(steps, name, owner):
    """A number of batches (`steps_per_epoch`, `validation_steps`, `steps`), or None."""
    return None if steps is None else check_positive_int(steps, name, owner)


# Why each argument has no meaning with a stream (generator, PyDataset, DataLoader).
_STREAM_DECIDES = {
    "y": "its batches hold the targets",
    "batch_size": "its batches have their own size",
    "sample_weight": "its batches hold the weights: give (x, y, sample_weight) batches",
    "validation_split": "a stream cannot be split: give validation_data",
    "member_rows": "every member trains on its batches",
    "member_validation_rows": "every member trains on its batches",
    "member_batch_sizes": "every member trains on its batches",
}


def check_stream_arguments(owner, **given):
    """Refuse the arguments in `given` that are set, which a stream's batches decide."""
    for name, value in given.items():
        if value is not None:
            raise InvalidArgumentError(
                f"The '{name}' argument of {owner} must be left out when x is a generator, "
                f"a PyDataset or a DataLoader: {_STREAM_DECIDES[name]}. Got {_brief(value)}."
            )


def _brief(value):
    if hasattr(value, "shape"):
        return f"an array of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return repr(value)


def check_read_once(stream, steps, name, epochs):
    """A generator is read once: reading it in several epochs needs their length."""
    if steps is None and epochs > 1 and sources.is_one_shot(stream):
        raise InvalidArgumentError(
            f"The '{name}' argument of fit is required to read a generator in {epochs} "
            "epochs: a generator is read once, so say how many of its batches make an epoch "
            "(and let it loop forever, or give at least that many per epoch). Got None."
        )


def check_callbacks(callbacks):
    """The callbacks as a list of `Callback` instances."""
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise InvalidTypeError(
                f"The 'callbacks' argument of fit must hold Callback instances. Got {callback!r}."
            )
    return callbacks


def member_batch_sizes(sizes, batch_size, members):
    """Each member's batch size: one int for all, or a list of M ints."""
    if sizes is None:
        return batch_size
    if not isinstance(sizes, (list, tuple, np.ndarray)) or len(sizes) != members:
        expected = f"a list of one batch size per member ({members})"
        raise argument_error("member_batch_sizes", "fit", expected, sizes)
    sizes = [check_positive_int(s, "member_batch_sizes", "fit") for s in sizes]
    return sizes[0] if len(set(sizes)) == 1 else sizes


def member_rows(rows, n, members):
    """Row indices per member (list of M tensors), or all rows shared."""
    if rows is None:
        return torch.arange(n)
    if len(rows) != members:
        raise InvalidArgumentError(
            f"member_rows needs one index array per member ({members}). Got {len(rows)}."
        )
    out = []
    for i, r in enumerate(rows):
        r = torch.as_tensor(np.asarray(r), dtype=torch.long)
        if r.ndim != 1 or len(r) == 0 or int(r.min()) < 0 or int(r.max()) >= n:
            raise InvalidArgumentError(f"member_rows[{i}] must be non-empty indices in [0, {n}).")
        out.append(r)
    return out
