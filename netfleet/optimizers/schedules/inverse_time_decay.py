"""Inverse time decay of the learning rate, as Keras 3 defines it."""

import torch

from netfleet import registry
from netfleet.optimizers.hyperparameters import Hyperparameter
from netfleet.optimizers.schedules.base import DeclaredSchedule


@registry.register("schedule")
class InverseTimeDecay(DeclaredSchedule):
    """The learning rate falls as one over the number of steps::

        p = step / decay_steps            (floor(step / decay_steps) if staircase)
        learning_rate = initial_learning_rate / (1 + decay_rate * p)

    Any setting may be a list: one member of a fleet per value.

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: How often to apply the decay, > 0.
        decay_rate: The decay rate.
        staircase: Decay at whole multiples of `decay_steps` only. Defaults to `False`.
        name: Defaults to `"InverseTimeDecay"`.

    Example:
        >>> schedule = InverseTimeDecay(0.1, decay_steps=1.0, decay_rate=0.5)
        >>> round(float(schedule(2)), 6)
        0.05
    """

    settings = {
        "initial_learning_rate": Hyperparameter(None, 0.0),
        "decay_steps": Hyperparameter(None, 0.0, low_open=True),
        "decay_rate": Hyperparameter(None, 0.0),
        "staircase": Hyperparameter(False, kind=bool),
    }

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="InverseTimeDecay",
    ):
        super().__init__(
            name,
            initial_learning_rate=initial_learning_rate,
            decay_steps=decay_steps,
            decay_rate=decay_rate,
            staircase=staircase,
        )

    @staticmethod
    def rate(step, initial_learning_rate, decay_steps, decay_rate, staircase):
        p = step / decay_steps
        p = torch.where(staircase > 0, p.floor(), p)
        return initial_learning_rate / (1 + decay_rate * p)
