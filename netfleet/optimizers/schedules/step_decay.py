"""What Keras 3's exponential and inverse time decays share: their settings, and the
decay's progress `p = step / decay_steps` (floored with `staircase`)."""

import torch

from netfleet.optimizers.hyperparameters import Hyperparameter
from netfleet.optimizers.schedules.base import DeclaredSchedule


class StepDecay(DeclaredSchedule):
    """A learning rate that decays with `p = step / decay_steps`; a subclass writes
    `decay(initial_learning_rate, decay_rate, p)`.

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: Steps per unit of `p`, > 0.
        decay_rate: How fast it decays.
        staircase: Decay at whole multiples of `decay_steps` only. Defaults to `False`.
        name: Defaults to the class name, as in Keras.
    """

    settings = {
        "initial_learning_rate": Hyperparameter(None, 0.0),
        "decay_steps": Hyperparameter(None, 0.0, low_open=True),
        "decay_rate": Hyperparameter(None, 0.0),
        "staircase": Hyperparameter(False, kind=bool),
    }

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        super().__init__(
            type(self).__name__ if name is None else name,
            initial_learning_rate=initial_learning_rate,
            decay_steps=decay_steps,
            decay_rate=decay_rate,
            staircase=staircase,
        )

    @classmethod
    def rate(cls, step, initial_learning_rate, decay_steps, decay_rate, staircase):
        p = step / decay_steps
        p = torch.where(staircase > 0, p.floor(), p)
        return cls.decay(initial_learning_rate, decay_rate, p)

    @staticmethod
    def decay(initial_learning_rate, decay_rate, p):
        raise NotImplementedError
