"""Keras-style progress output for `fit` and `evaluate`.

verbose=1: a bar per epoch (`422/422 ━━━━━━━━━━━━━━━━━━━━ 1s 2ms/step - loss: ...`),
refreshed in place on a terminal or notebook at most a few times a second (each refresh
reads the running metrics back from the device, so refreshes are rationed);
verbose=2: one line per epoch.
"""

import sys
import time

import numpy as np

BAR_WIDTH = 20
REFRESH_SECONDS = 0.5


def format_value(value):
    value = np.asarray(value, dtype=float).reshape(-1)
    value = value[~np.isnan(value)]
    if value.size == 0:
        return "nan"
    if value.size == 1:
        return _number(value[0])
    return f"{_number(value.min())}..{_number(value.max())}"


def _number(x):
    return f"{x:.4e}" if x != 0 and abs(x) < 1e-3 else f"{x:.4f}"


def format_logs(logs):
    return "".join(f" - {key}: {format_value(value)}" for key, value in logs.items())


def _live_output():
    return sys.stdout.isatty() or "ipykernel" in sys.modules


def _duration(seconds):
    """Keras' units: whole seconds, else milliseconds, else microseconds."""
    if seconds >= 1:
        return f"{seconds:.0f}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms"
    return f"{seconds * 1e6:.0f}us"


class ProgressBar:
    """Prints the progress of one epoch (or one evaluation) of `steps` steps."""

    def __init__(self, steps, verbose, stream=None):
        self.steps = steps
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.live = verbose == 1 and _live_output()
        self.start = time.perf_counter()
        self.last_refresh = self.start

    def due(self):
        """Whether a live refresh is due now (so the caller reads metrics only then)."""
        return self.live and time.perf_counter() - self.last_refresh >= REFRESH_SECONDS

    def update(self, step, logs):
        self.last_refresh = time.perf_counter()
        self.stream.write("\r" + self._line(step, logs))
        self.stream.flush()

    def finish(self, logs):
        if self.verbose == 0:
            return
        end = "\n"
        if self.verbose == 1:
            self.stream.write(("\r" if self.live else "") + self._line(self.steps, logs) + end)
        else:
            elapsed = time.perf_counter() - self.start
            per_step = elapsed / max(1, self.steps)
            self.stream.write(
                f"{self.steps}/{self.steps} - {elapsed:.0f}s - {_duration(per_step)}/step"
                f"{format_logs(logs)}{end}"
            )
        self.stream.flush()

    def _line(self, step, logs):
        width = len(str(self.steps))
        filled = int(BAR_WIDTH * step / max(1, self.steps))
        bar = "━" * filled + (
            "\x1b[2m" + "━" * (BAR_WIDTH - filled) + "\x1b[0m" if filled < BAR_WIDTH else ""
        )
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(1, step)
        timing = (
            f"{elapsed:.0f}s"
            if step == self.steps
            else f"{_duration(per_step * (self.steps - step))} eta"
        )
        return f"{step:>{width}}/{self.steps} {bar} {timing} {_duration(per_step)}/step{format_logs(logs)}"
