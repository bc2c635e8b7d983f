"""Progress on long work: the lab's steps, and the runs and members of fleets trained with
the time left; silent unless the output is a terminal.

`Progress.callback()` is a Keras callback: give it to `sweep` (`fit=dict(callbacks=[...])`)
or to a `NetClassifier` in a `FleetSearchCV` (`callbacks=[...]`). It counts each batched run
it sees, so one callback follows a whole sweep or search; copies made by scikit-learn's
`clone` are the same callback.
"""

import sys
import time

from netfleet.callbacks import Callback


class Progress:
    """Prints a lab's steps and its fleets' progress to `stream` when it is a terminal.

    Args:
        stream: Where to print. Defaults to `sys.stdout`.
        enabled: Print at all. Defaults to whether `stream` is a terminal.
    """

    def __init__(self, stream=None, enabled=None):
        self.stream = sys.stdout if stream is None else stream
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = isatty() if enabled is None else enabled
        self._started = time.perf_counter()

    def step(self, title):
        """Announce the next step of the work."""
        self.write(f"{self._clock()} {title}\n")

    def callback(self, members=None):
        """A callback reporting fleet runs; `members`: how many members all its runs train
        together (for the time left). Defaults to unknown (no estimate)."""
        return FleetProgress(self, members)

    def write(self, text):
        if self.enabled:
            self.stream.write(text)
            self.stream.flush()

    def _clock(self):
        seconds = int(time.perf_counter() - self._started)
        return f"[{seconds // 60:02d}:{seconds % 60:02d}]"


class FleetProgress(Callback):
    """Reports `run k · members n/N · epoch e/E · t left` after every epoch of every run."""

    def __init__(self, progress, members=None):
        super().__init__()
        self.progress = progress
        self.total = members
        self.runs = 0
        self.members_done = 0
        self._began = None

    def __deepcopy__(self, memo):
        return self

    def on_train_begin(self, logs=None):
        self.runs += 1
        self._began = self._began or time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        members = self.model.num_members
        epochs = max(self.params.get("epochs", 1), 1)
        done = self.members_done + members * (epoch + 1) / epochs
        line = f"  run {self.runs}: {members} member{'s' if members > 1 else ''}"
        line += f", epoch {epoch + 1}/{epochs}"
        if self.total:
            left = (time.perf_counter() - self._began) * (self.total - done) / done
            line += f" · members {done:.0f}/{self.total} · {max(left, 0):.0f} s left"
        self.progress.write(f"\r{line:<78}")

    def on_train_end(self, logs=None):
        self.members_done += self.model.num_members
        self.progress.write("\n")
