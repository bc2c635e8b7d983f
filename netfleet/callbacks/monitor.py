"""`MonitorCallback`: what EarlyStopping and ModelCheckpoint share — the monitored quantity,
its direction, and each member's best value so far — and `MemberWeights`, copies of chosen
members' rows of the model's flat weight buffer."""

import contextlib
import warnings

import numpy as np
import torch

from netfleet.callbacks import arguments
from netfleet.callbacks.base import Callback
from netfleet.errors import argument_error
from netfleet.metrics import Metric


class MonitorCallback(Callback):
    """Base class of callbacks that watch one logged quantity, member by member.

    Values are handled as arrays of shape (M,): `best` holds each member's best value (NaN
    while it has none), and `_improved(current)` says which members improved on it. A NaN
    value never counts as an improvement, and members no longer training are not watched.
    State is reset in `on_train_begin`, so one instance can serve several `fit` calls.

    Args:
        monitor: The key of `logs` to watch. Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"`: in `"auto"` mode the direction is the compiled
            metric's `direction` when it declares one, else `"max"` for names containing
            `acc` or `auc` and `"min"` otherwise. Defaults to `"auto"`.
        min_delta: The smallest change that counts as an improvement. Defaults to `0`.
        initial_best: The value to beat before the first improvement, or None (the first
            value is then an improvement). Defaults to `None`.
    """

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0, initial_best=None):
        super().__init__()
        owner = type(self).__name__
        if mode not in ("auto", "min", "max"):
            raise argument_error("mode", owner, "'auto', 'min' or 'max'", mode)
        self.monitor = arguments.text(monitor, "monitor", owner)
        self.mode = mode
        self.min_delta = abs(arguments.number(min_delta, "min_delta", owner))
        self.initial_best = arguments.number(initial_best, "initial_best", owner, optional=True)
        self.best = None

    def on_train_begin(self, logs=None):
        members = getattr(self.model, "num_members", 1)
        initial = np.nan if self.initial_best is None else float(self.initial_best)
        self.best = np.full(members, initial)

    @property
    def direction(self):
        """`"min"` or `"max"`: which way the monitored quantity improves."""
        if self.mode != "auto":
            return self.mode
        name = self.monitor.removeprefix("val_")
        for metric in _compiled_metrics(getattr(self.model, "compiled", None)):
            if isinstance(metric, Metric) and name in (metric.name, f"weighted_{metric.name}"):
                return metric.direction
        return "max" if "acc" in name or "auc" in name else "min"

    def get_monitor_value(self, logs):
        """The monitored value as an array (M,), or None (with a warning) when it is missing."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__} is monitoring '{self.monitor}', which is not in the "
                f"logs. Available: {', '.join(logs or {}) or 'none'}. Pass monitor= one of "
                "those (val_ values need validation data).",
                stacklevel=3,
            )
            return None
        return np.atleast_1d(np.asarray(value, dtype=float))

    def _is_improvement(self, current, reference):
        """Per member: `current` beats `reference` by more than `min_delta` (NaN: no best)."""
        if self.direction == "min":
            better = np.less(current + self.min_delta, reference)
        else:
            better = np.greater(current - self.min_delta, reference)
        return ~np.isnan(current) & (np.isnan(reference) | better)

    def _watched(self):
        """Mask (M,) of the members still training."""
        watched = np.zeros(len(self.best), dtype=bool)
        watched[getattr(self.model, "active_members", range(len(self.best)))] = True
        return watched

    def _improved(self, current):
        """Mask (M,) of the watched members that improved; their `best` becomes `current`."""
        improved = self._watched() & self._is_improvement(current, self.best)
        self.best[improved] = current[improved]
        return improved


def _compiled_metrics(compiled):
    """The metrics `compiled` was given, weighted or not (lists per output and dicts by
    output name walked through)."""
    pending = [getattr(compiled, "metric_ids", []), getattr(compiled, "weighted_metric_ids", [])]
    found = []
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        else:
            found.append(item)
    return found


class MemberWeights:
    """Copies of members' rows of a model's flat weight buffer `store.data` (M, P)."""

    def __init__(self):
        self.rows = None

    def keep(self, model, members):
        """Copy the current weights of `members` (a mask or indices); the first call copies
        every member, so each one then has a row."""
        data = model.parameter_store().data
        with torch.no_grad():
            if self.rows is None:
                self.rows = data.detach().clone()
            index = _index(members)
            self.rows[index] = data[index]

    def restore(self, model, members):
        """Write the kept rows of `members` back into the model."""
        index = _index(members)
        with torch.no_grad():
            model.parameter_store().data[index] = self.rows[index]

    @contextlib.contextmanager
    def swapped_in(self, model):
        """Within the block the model holds the kept rows; its own come back afterwards."""
        data = model.parameter_store().data
        current = data.detach().clone()
        with torch.no_grad():
            data.copy_(self.rows)
        try:
            yield
        finally:
            with torch.no_grad():
                data.copy_(current)


def _index(members):
    members = np.asarray(members)
    if members.dtype == bool:
        members = np.flatnonzero(members)
    return torch.as_tensor(members, dtype=torch.long)
