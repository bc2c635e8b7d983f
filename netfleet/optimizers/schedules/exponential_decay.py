"""Exponential decay of the learning rate, as Keras 3 defines it."""

from netfleet import registry
from netfleet.optimizers.schedules.step_decay import StepDecay


@registry.register("schedule")
class ExponentialDecay(StepDecay):
    """The learning rate decays by `decay_rate` every `decay_steps` steps::

        p = step / decay_steps            (floor(step / decay_steps) if staircase)
        learning_rate = initial_learning_rate * decay_rate ** p

    Any setting may be a list: one member of a fleet per value.

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: Steps per decay by `decay_rate`, > 0.
        decay_rate: The factor per `decay_steps` steps.
        staircase: Decay at whole multiples of `decay_steps` only. Defaults to `False`.
        name: Defaults to `"ExponentialDecay"`.

    Example:
        >>> schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
        >>> round(float(schedule(20)), 6)
        0.025
    """

    @staticmethod
    def decay(initial_learning_rate, decay_rate, p):
        return initial_learning_rate * decay_rate**p
