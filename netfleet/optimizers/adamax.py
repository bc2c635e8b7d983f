"""Adamax (Kingma & Ba, 2014, section 7.1), Adam with the infinity norm, as Keras writes it."""

import torch

from netfleet import registry
from netfleet.optimizers.adam import ADAM_HYPERPARAMETERS
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.hyperparameters import COMMON_OPTIONS


@registry.register("optimizer")
class Adamax(Optimizer):
    """Adam with the second moment replaced by an exponentially weighted infinity norm.

    Keras' update at step t, with `m` and `u` zero at the start::

        m = m + (g - m) * (1 - beta_1)
        u = max(beta_2 * u, abs(g))
        w = w - learning_rate * m / ((1 - beta_1**t) * (u + epsilon))

    Args:
        learning_rate: A float or a schedule. Defaults to `0.001`.
        beta_1: Decay of the first moment, in [0, 1). Defaults to `0.9`.
        beta_2: Decay of the infinity norm, in [0, 1). Defaults to `0.999`.
        epsilon: Defaults to `1e-7`.
        weight_decay, clipnorm, clipvalue, global_clipnorm: Keras' options (see
            `Optimizer`). Default to `None` (off).
    """

    hyperparameters = {**ADAM_HYPERPARAMETERS, **COMMON_OPTIONS}

    def build_slots(self, data):
        self.add_slot("m", data)
        self.add_slot("u", data)

    def update(self, param, grad, step):
        h = self.h
        m, u = self.slots["m"], self.slots["u"]
        m.lerp_(grad, 1 - h["beta_1"])
        torch.maximum(u.mul_(h["beta_2"]), grad.abs(), out=u)
        denominator = (1 - h["beta_1"] ** step) * (u + h["epsilon"])
        param.sub_((h["learning_rate"] * m).div_(denominator))
