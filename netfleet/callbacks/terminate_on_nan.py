"""`TerminateOnNaN`: Keras' callback; in a fleet only the members whose loss went bad stop."""

import numpy as np

from netfleet import registry
from netfleet.callbacks.base import Callback


@registry.register("callback")
class TerminateOnNaN(Callback):
    """Stop training when the batch loss becomes NaN or infinite.

    Checked after every training batch. One model stops as in Keras (`model.stop_training`,
    then `fit` ends after that batch); in a fleet the members whose loss is NaN or infinite
    are frozen with `model.stop_members` and the others train on (`fit` ends when none is
    left). The message is Keras' "Batch N: Invalid loss, terminating training", with the
    members for a fleet.

    Example:
        >>> TerminateOnNaN().stopped_members
        []
    """

    def __init__(self):
        super().__init__()
        self.stopped_members = []

    def on_train_begin(self, logs=None):
        self.stopped_members = []

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = np.atleast_1d(np.asarray(loss, dtype=float))
        active = np.zeros(len(loss), dtype=bool)
        active[getattr(self.model, "active_members", range(len(loss)))] = True
        bad = np.flatnonzero(active & ~np.isfinite(loss)).tolist()
        if not bad:
            return
        if len(loss) == 1:
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
        else:
            print(f"Batch {batch}: Invalid loss of members {bad}, terminating their training")
            self.model.stop_members(bad)
        self.stopped_members.extend(bad)
