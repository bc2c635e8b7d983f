"""`LearningRateScheduler`: Keras' callback, called for each member of a fleet with its own
learning rate."""

import inspect
import numbers

import numpy as np

from netfleet import registry
from netfleet.callbacks import learning_rates
from netfleet.callbacks.base import Callback
from netfleet.errors import InvalidArgumentError, InvalidTypeError, argument_error


@registry.register("callback")
class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to `schedule(epoch, lr)`.

    `epoch` counts from 0 and `lr` is the current learning rate; a function of `epoch` alone
    works too (Keras' older form). In a fleet, the function is called once per training
    member with that member's own rate, so members swept over learning rates keep their
    own scales (`lambda epoch, lr: lr * 0.9` decays each). Adds `learning_rate` to the
    epoch's logs.

    Args:
        schedule: `schedule(epoch, lr) -> lr` (a number), or `schedule(epoch) -> lr`.
        verbose: 1 prints each new rate. Defaults to `0`.

    Example:
        >>> callback = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
        >>> callback.verbose
        0
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise argument_error(
                "schedule",
                "LearningRateScheduler",
                "a function (epoch, lr) -> lr",
                schedule,
                error=InvalidTypeError,
            )
        self.schedule = schedule
        self.verbose = verbose
        self._takes_rate = _takes_two_arguments(schedule)
        self._trained = None

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        self._trained = learning_rates.trained_members(self.model)
        rates = optimizer.current_learning_rates()
        new = [
            self._rate(epoch, rate) if trained else float(rate)
            for rate, trained in zip(rates, self._trained)
        ]
        optimizer.set_hyperparameter("learning_rate", new if len(new) > 1 else new[0])
        if self.verbose > 0:
            for member in np.flatnonzero(self._trained):
                suffix = f" (member {member})" if len(new) > 1 else ""
                print(
                    f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                    f"{new[member]}.{suffix}"
                )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = learning_rates.logged_rates(self.model, self._trained)

    def _rate(self, epoch, rate):
        value = self.schedule(epoch, float(rate)) if self._takes_rate else self.schedule(epoch)
        if not isinstance(value, numbers.Real) and hasattr(value, "item"):
            try:
                value = value.item()  # one-value arrays and tensors
            except (ValueError, RuntimeError):
                pass  # several values: refused below
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidArgumentError(
                "The output of the `schedule` function of LearningRateScheduler should be a "
                f"float. Got: {value!r} (at epoch {epoch})."
            )
        return float(value)


def _takes_two_arguments(function):
    """Whether `function` takes `(epoch, lr)` rather than `(epoch)` alone."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2
