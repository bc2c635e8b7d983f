"""`ReduceLROnPlateau`: Keras' callback, member by member — each member of a fleet has its
own plateau, wait, cooldown and learning rate."""

import numpy as np

from netfleet import registry
from netfleet.callbacks import arguments, learning_rates
from netfleet.callbacks.monitor import MonitorCallback
from netfleet.errors import argument_error, check_positive_int


@registry.register("callback")
class ReduceLROnPlateau(MonitorCallback):
    """Multiply a member's learning rate by `factor` when its monitored quantity has not
    improved for `patience` epochs.

    Keras' rule, for each member: an improvement (by more than `min_delta`) resets the
    wait; otherwise, out of cooldown, the wait grows, and when it reaches `patience` the
    learning rate becomes `max(learning_rate * factor, min_lr)` (if it is above `min_lr`),
    the wait restarts and `cooldown` epochs follow in which the wait does not grow. A fleet
    changes only the members on a plateau, through `optimizer.set_hyperparameter`. Adds
    `learning_rate` (the rate each member trained with) to the epoch's logs.

    Args:
        monitor: Quantity to watch. Defaults to `"val_loss"`.
        factor: The factor a learning rate is multiplied by, in (0, 1). Defaults to `0.1`.
        patience: Epochs without improvement before a reduction. Defaults to `10`.
        verbose: 1 prints each reduction. Defaults to `0`.
        mode: `"auto"`, `"min"` or `"max"` (see `MonitorCallback`). Defaults to `"auto"`.
        min_delta: Smallest change that counts as an improvement. Defaults to `1e-4`.
        cooldown: Epochs after a reduction before the wait grows again. Defaults to `0`.
        min_lr: The lowest learning rate, >= 0. Defaults to `0.0`.

    Attributes:
        wait: (M,) epochs since each member's last improvement or reduction.
        cooldown_counter: (M,) cooldown epochs each member has left.

    Example:
        >>> callback = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2)
        >>> callback.factor, callback.patience
        (0.5, 2)
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, mode, min_delta)
        owner = "ReduceLROnPlateau"
        self.factor = arguments.number(factor, "factor", owner)
        if not 0 < self.factor < 1:
            raise argument_error("factor", owner, "a float in (0, 1)", factor)
        self.patience = check_positive_int(patience, "patience", owner, minimum=0)
        self.verbose = verbose
        self.cooldown = check_positive_int(cooldown, "cooldown", owner, minimum=0)
        self.min_lr = arguments.number(min_lr, "min_lr", owner)
        if self.min_lr < 0:
            raise argument_error("min_lr", owner, "a number >= 0", min_lr)
        self.wait = self.cooldown_counter = self._trained = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.wait = np.zeros(len(self.best), dtype=int)
        self.cooldown_counter = np.zeros(len(self.best), dtype=int)
        self._trained = learning_rates.trained_members(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self._trained = learning_rates.trained_members(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = learning_rates.logged_rates(self.model, self._trained)
        current = self.get_monitor_value(logs)
        if current is None:
            return
        watched = self._watched()
        cooling = watched & (self.cooldown_counter > 0)
        self.cooldown_counter[cooling] -= 1
        self.wait[cooling] = 0
        improved = self._improved(current)
        self.wait[improved] = 0
        stalled = watched & ~improved & (self.cooldown_counter == 0)
        self.wait[stalled] += 1
        optimizer = self.model.optimizer
        rates = optimizer.current_learning_rates()
        reduce = stalled & (self.wait >= self.patience) & (rates > np.float32(self.min_lr))
        if not reduce.any():
            return
        new = np.where(reduce, np.maximum(rates * self.factor, self.min_lr), rates)
        optimizer.set_hyperparameter(
            "learning_rate", new.tolist() if len(new) > 1 else float(new[0])
        )
        self.cooldown_counter[reduce] = self.cooldown
        self.wait[reduce] = 0
        if self.verbose > 0:
            for member in np.flatnonzero(reduce):
                suffix = f" (member {member})" if len(rates) > 1 else ""
                print(
                    f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                    f"{new[member]}.{suffix}"
                )
