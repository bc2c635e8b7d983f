"""`ModelCheckpoint`: Keras' callback; a fleet is saved whole, each member's row holding
that member's best weights when only the best are kept."""

import os

import numpy as np

from netfleet import registry
from netfleet.callbacks import arguments
from netfleet.callbacks.monitor import MemberWeights, MonitorCallback
from netfleet.errors import argument_error


@registry.register("callback")
class ModelCheckpoint(MonitorCallback):
    """Save the model (or its weights) every epoch, every `save_freq` batches, or on
    improvement.

    `filepath` may hold format fields filled from the logs and the 1-based `epoch` (and
    `batch` when saving by batches), e.g. `"ckpt-{epoch:02d}-{val_loss:.2f}.nfm"`. For a
    fleet the fields take the values of the member that is best on `monitor` at that time.

    With `save_best_only`, a file is written when at least one member improved on its best
    `monitor` value; the file holds the whole fleet, each member's row being that member's
    best weights so far. For one model this is Keras' behaviour.

    Args:
        filepath: Path of the file, possibly with format fields.
        monitor: Quantity watched by `save_best_only`. Defaults to `"val_loss"`.
        verbose: 1 prints a line for each decision. Defaults to `0`.
        save_best_only: Save only when a member improved. Defaults to `False`.
        save_weights_only: Write `model.save_weights(path)` instead of `model.save(path)`.
            Defaults to `False`.
        mode: `"auto"`, `"min"` or `"max"` (see `MonitorCallback`). Defaults to `"auto"`.
        save_freq: `"epoch"`, or an integer: save after that many batches. Defaults to
            `"epoch"`.
        initial_value_threshold: The value a member must beat before its first save.
            Defaults to `None`.
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        owner = "ModelCheckpoint"
        filepath = arguments.path(filepath, "filepath", owner)
        initial_value_threshold = arguments.number(
            initial_value_threshold, "initial_value_threshold", owner, optional=True
        )
        super().__init__(monitor, mode, initial_best=initial_value_threshold)
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise argument_error(
                "save_freq", "ModelCheckpoint", "'epoch' or an int >= 1", save_freq
            )
        self.filepath = filepath
        self.verbose = verbose
        self.save_best_only = arguments.flag(save_best_only, "save_best_only", owner)
        self.save_weights_only = arguments.flag(save_weights_only, "save_weights_only", owner)
        self.save_freq = save_freq
        if save_freq != "epoch":
            self.on_train_batch_end = self._on_batch_end  # batch logs only when needed

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.best_weights = MemberWeights()
        self._epoch = 0
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _on_batch_end(self, batch, logs=None):
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs or {})

    def _save(self, epoch, batch, logs):
        current = logs.get(self.monitor)
        current = None if current is None else np.atleast_1d(np.asarray(current, dtype=float))
        path = self._file_path(epoch, batch, logs, current)
        if self.save_best_only and not self._record_best(epoch, logs, current, path):
            return
        if self.verbose > 0 and not self.save_best_only:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        write = self.model.save_weights if self.save_weights_only else self.model.save
        if self.save_best_only and self.best_weights.rows is not None:
            with self.best_weights.swapped_in(self.model):
                write(path, overwrite=True)
        else:
            write(path, overwrite=True)

    def _record_best(self, epoch, logs, current, path):
        """Whether any member improved (its weights are then kept as its best)."""
        if current is None:
            self.get_monitor_value(logs)  # warns; Keras then saves anyway
            return True
        previous = _format(self.best)
        improved = self._improved(current)
        if improved.any():
            self.best_weights.keep(self.model, improved)
        if self.verbose > 0:
            start = f"\nEpoch {epoch + 1}: {self.monitor}"
            if not improved.any():
                print(f"{start} did not improve from {previous}")
            else:
                members = (
                    f" (members {np.flatnonzero(improved).tolist()})" if len(improved) > 1 else ""
                )
                print(
                    f"{start} improved from {previous} to {_format(self.best)}{members}, "
                    f"saving model to {path}"
                )
        return bool(improved.any())

    def _file_path(self, epoch, batch, logs, current):
        member = _best_member(current, self.direction)
        fields = {"epoch": epoch + 1}
        if batch is not None:
            fields["batch"] = batch + 1
        for key, value in logs.items():
            value = np.atleast_1d(np.asarray(value, dtype=float))
            fields[key] = float(value[member if len(value) > 1 else 0])
        try:
            return self.filepath.format(**fields)
        except KeyError as error:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: no value '
                f"for {error}. Available fields: {', '.join(fields)}."
            ) from None


def _best_member(current, direction):
    """The member with the best monitored value (0 without one): it fills a fleet's file name."""
    if current is None or np.isnan(current).all():
        return 0
    return int(np.nanargmin(current) if direction == "min" else np.nanargmax(current))


def _format(values):
    text = ", ".join("None" if np.isnan(v) else f"{v:.5f}" for v in values)
    return text if len(values) == 1 else f"[{text}]"
