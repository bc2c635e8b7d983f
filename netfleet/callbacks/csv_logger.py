"""`CSVLogger`: Keras' callback; a fleet writes one row per member and epoch, with the
member's index and swept settings."""

import csv
import os

import numpy as np

from netfleet import registry
from netfleet.callbacks import arguments
from netfleet.callbacks.base import Callback
from netfleet.callbacks.history import label_names
from netfleet.errors import argument_error


@registry.register("callback")
class CSVLogger(Callback):
    """Stream the epoch logs to a CSV file, flushed after every epoch.

    One model writes Keras' file: a header `epoch,<keys in sorted order>` and one row per
    epoch (0-based, as Keras). A fleet writes `epoch,member,<swept settings>,<keys>` and one
    row per member and epoch, leaving out members that had stopped (all values NaN).

    Args:
        filename: Path of the CSV file.
        separator: Field separator. Defaults to `","`.
        append: Append to an existing file (no second header) instead of overwriting it.
            Defaults to `False`.

    Example:
        >>> CSVLogger("training.log").separator
        ','
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = arguments.path(filename, "filename", "CSVLogger")
        if not isinstance(separator, str) or len(separator) != 1:
            raise argument_error("separator", "CSVLogger", "a one-character string", separator)
        self.separator = separator
        self.append = arguments.flag(append, "append", "CSVLogger")
        self.keys = None
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        self._close()
        write_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as existing:
                write_header = not existing.readline()
        # open until on_train_end: one row is written and flushed per epoch
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self._write_header = write_header
        self.keys = None
        self._writer = None
        self._params = list(getattr(self.model, "member_params", [{}]))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        fleet = len(self._params) > 1
        settings = [n for n in label_names(self._params) if n != "member"] if fleet else []
        if self._writer is None:
            self.keys = sorted(logs)
            header = ["epoch", *(["member", *settings] if fleet else []), *self.keys]
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if self._write_header:
                self._writer.writerow(header)
        columns = [np.atleast_1d(np.asarray(logs.get(k, np.nan), dtype=float)) for k in self.keys]
        for member, params in enumerate(self._params):
            values = [float(c[member if len(c) > 1 else 0]) for c in columns]
            if fleet and all(np.isnan(values)):
                continue
            identity = [member, *(params.get(n, "") for n in settings)] if fleet else []
            self._writer.writerow([epoch, *identity, *values])
        self._file.flush()

    def on_train_end(self, logs=None):
        self._close()

    def _close(self):
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._writer = None
