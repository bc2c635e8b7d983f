"""Inverse time decay of the learning rate, as Keras 3 defines it."""

from netfleet import registry
from netfleet.optimizers.schedules.step_decay import StepDecay


@registry.register("schedule")
class InverseTimeDecay(StepDecay):
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

    @staticmethod
    def decay(initial_learning_rate, decay_rate, p):
        return initial_learning_rate / (1 + decay_rate * p)
