"""Cosine decay of the learning rate with an optional linear warmup, as Keras 3 defines it
(Loshchilov & Hutter, 2016; warmup as Goyal et al., 2017)."""

import math

import torch

from netfleet import registry
from netfleet.optimizers.hyperparameters import Hyperparameter
from netfleet.optimizers.schedules.base import DeclaredSchedule


@registry.register("schedule")
class CosineDecay(DeclaredSchedule):
    """A cosine from the initial (or warmup target) learning rate down to `alpha` times it,
    after an optional linear warmup.

    Without warmup (`warmup_target=None`)::

        s = min(step, decay_steps)
        learning_rate = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)

    With warmup, `s = min(step, warmup_steps + decay_steps)`: while `s < warmup_steps`
    the rate rises linearly, `initial_learning_rate + (warmup_target - initial_learning_rate)
    * s / warmup_steps`, then decays as above from `warmup_target` over `s - warmup_steps`.
    Any setting may be a list (one member of a fleet per value; `None` in a list of warmup
    targets is a member without warmup).

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: Steps to decay over, > 0.
        alpha: The final rate as a fraction of the decay's start. Defaults to `0.0`.
        name: Defaults to `"CosineDecay"`.
        warmup_target: The rate the warmup reaches, or None for no warmup. Defaults to `None`.
        warmup_steps: Steps to warm up over. Defaults to `0`.

    Example:
        >>> schedule = CosineDecay(0.0, decay_steps=10, warmup_target=0.1, warmup_steps=10)
        >>> [round(float(schedule(step)), 6) for step in (5, 10, 15, 20)]
        [0.05, 0.1, 0.05, 0.0]
    """

    settings = {
        "initial_learning_rate": Hyperparameter(None, 0.0),
        "decay_steps": Hyperparameter(None, 0.0, low_open=True),
        "alpha": Hyperparameter(0.0, 0.0, 1.0, high_open=False),
        "warmup_target": Hyperparameter(None, 0.0, optional=True),
        "warmup_steps": Hyperparameter(0, 0.0),
    }

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        super().__init__(
            name,
            initial_learning_rate=initial_learning_rate,
            decay_steps=decay_steps,
            alpha=alpha,
            warmup_target=warmup_target,
            warmup_steps=warmup_steps,
        )

    @classmethod
    def stack(cls, schedules, device):
        """A member without warmup is one whose warmup of 0 steps reaches its initial rate."""
        return super().stack([_without_none(schedule) for schedule in schedules], device)

    @staticmethod
    def rate(step, initial_learning_rate, decay_steps, alpha, warmup_target, warmup_steps):
        step = torch.minimum(step, decay_steps + warmup_steps)
        fraction = (step - warmup_steps) / decay_steps
        cosine = 0.5 * (1.0 + torch.cos(math.pi * fraction))
        decayed = warmup_target * ((1 - alpha) * cosine + alpha)
        warming = (warmup_target - initial_learning_rate) * (step / warmup_steps)
        return torch.where(step < warmup_steps, warming + initial_learning_rate, decayed)


def _without_none(schedule):
    if schedule.warmup_target is not None:
        return schedule
    settings = {**schedule.get_config(), "warmup_steps": 0}
    settings["warmup_target"] = schedule.initial_learning_rate
    return CosineDecay(**settings)
