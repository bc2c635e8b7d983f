"""A stand-in model for driving callbacks by hand with made-up logs."""

import numpy as np


class FakeModel:
    """What callbacks read of a model, recording the members they stop."""

    def __init__(self, members=1):
        self.num_members = members
        self.member_params = [{}] * members
        self.stop_training = False
        self.stop_calls = []
        self._active = np.ones(members, dtype=bool)

    @property
    def active_members(self):
        return np.flatnonzero(self._active).tolist()

    def stop_members(self, members):
        self.stop_calls.append(list(members))
        self._active[list(members)] = False
        if not self._active.any():
            self.stop_training = True


def drive(callback, model, values, key="loss"):
    """Run `callback` through epochs whose `key` logs are `values` (NaN for stopped
    members, as fit reports them); returns the epochs run."""
    callback.set_model(model)
    callback.on_train_begin()
    epochs = 0
    for epoch, value in enumerate(values):
        if model.stop_training:
            break
        value = np.asarray(value, dtype=float)
        if value.ndim:
            value = np.where(model._active, value, np.nan)
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {key: value if value.ndim else float(value)})
        epochs += 1
    callback.on_train_end()
    return epochs
