"""`EarlyStopping`: Keras' callback, member by member — a stalled member is frozen while
the others train on."""

import numpy as np

from netfleet import registry
from netfleet.callbacks import arguments
from netfleet.callbacks.monitor import MemberWeights, MonitorCallback
from netfleet.errors import check_positive_int


@registry.register("callback")
class EarlyStopping(MonitorCallback):
    """Stop training a member when its monitored quantity has stopped improving.

    Each member of a fleet has its own best value and wait counter; a member whose patience
    runs out is frozen with `model.stop_members` (the others keep training, and `fit` ends
    when none is left). For one model this is exactly Keras' EarlyStopping.

    Args:
        monitor: Quantity to watch. Defaults to `"val_loss"`.
        min_delta: Smallest change that counts as an improvement. Defaults to `0`.
        patience: Epochs without improvement after which a member stops. Defaults to `0`.
        verbose: 1 prints "Epoch N: early stopping" at the end of training. Defaults to `0`.
        mode: `"auto"`, `"min"` or `"max"` (see `MonitorCallback`). Defaults to `"auto"`.
        baseline: A member's wait counter is reset only by improvements that also beat
            `baseline`. Defaults to `None`.
        restore_best_weights: At the end of training, put back each member's weights from
            its best epoch (as Keras 3 does, whether or not it stopped early); otherwise the
            weights of its last trained step remain. Defaults to `False`.
        start_from_epoch: Epochs to wait before watching (warm-up). Defaults to `0`.

    Attributes:
        stopped_epochs: (M,) the 0-based epoch at which each member stopped, 0 if it did not.
        best_epochs: (M,) each member's best epoch.
        wait: (M,) epochs since each member's last improvement.

    Example:
        >>> callback = EarlyStopping(monitor="loss", patience=3)
        >>> callback.patience
        3
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience = check_positive_int(patience, "patience", "EarlyStopping", minimum=0)
        self.verbose = verbose
        self.baseline = arguments.number(baseline, "baseline", "EarlyStopping", optional=True)
        self.restore_best_weights = arguments.flag(
            restore_best_weights, "restore_best_weights", "EarlyStopping"
        )
        self.start_from_epoch = check_positive_int(
            start_from_epoch, "start_from_epoch", "EarlyStopping", minimum=0
        )

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        members = len(self.best)
        self.wait = np.zeros(members, dtype=int)
        self.stopped_epochs = np.zeros(members, dtype=int)
        self.best_epochs = np.zeros(members, dtype=int)
        self.best_weights = MemberWeights() if self.restore_best_weights else None

    @property
    def stopped_epoch(self):
        """Keras' scalar for one model; the array `stopped_epochs` for a fleet."""
        return int(self.stopped_epochs[0]) if len(self.stopped_epochs) == 1 else self.stopped_epochs

    @property
    def best_epoch(self):
        return int(self.best_epochs[0]) if len(self.best_epochs) == 1 else self.best_epochs

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        watched = self._watched()
        if self.best_weights is not None and self.best_weights.rows is None:
            self.best_weights.keep(self.model, watched)  # the current weights are the best
            self.best_epochs[:] = epoch
        self.wait[watched] += 1
        improved = self._improved(current)
        self.best_epochs[improved] = epoch
        if self.best_weights is not None:
            self.best_weights.keep(self.model, improved)
        if self.baseline is None:
            self.wait[improved] = 0
        else:
            baseline = np.full(len(current), float(self.baseline))
            self.wait[improved & self._is_improvement(current, baseline)] = 0
        stop = watched & ~improved & (self.wait >= self.patience) & (epoch > 0)
        if stop.any():
            self.stopped_epochs[stop] = epoch
            self.model.stop_members(np.flatnonzero(stop).tolist())

    def on_train_end(self, logs=None):
        restore = self.best_weights is not None and self.best_weights.rows is not None
        for member in range(len(self.best)):
            suffix = f" (member {member})" if len(self.best) > 1 else ""
            if self.verbose > 0 and self.stopped_epochs[member] > 0:
                print(f"Epoch {self.stopped_epochs[member] + 1}: early stopping{suffix}")
            if self.verbose > 0 and restore:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epochs[member] + 1}.{suffix}"
                )
        if restore:
            self.best_weights.restore(self.model, np.arange(len(self.best)))
