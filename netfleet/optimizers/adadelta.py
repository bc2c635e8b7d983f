"""Adadelta (Zeiler, 2012) as Keras writes it, with a learning rate on top of the paper's
step (the paper's form is `learning_rate=1.0`)."""

from netfleet import registry
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.hyperparameters import COMMON_OPTIONS, Hyperparameter


@registry.register("optimizer")
class Adadelta(Optimizer):
    """Scale steps by the ratio of running RMS of past steps to running RMS of gradients.

    Keras' update, with the averages `ag` (of squared gradients) and `adv` (of squared
    steps) zero at the start::

        ag = rho * ag + (1 - rho) * g**2
        delta = -sqrt(adv + epsilon) * g / sqrt(ag + epsilon)
        adv = rho * adv + (1 - rho) * delta**2
        w = w + learning_rate * delta

    Args:
        learning_rate: A float or a schedule. Defaults to `0.001`.
        rho: The decay rate, in [0, 1). Defaults to `0.95`.
        epsilon: Defaults to `1e-7`.
        weight_decay, clipnorm, clipvalue, global_clipnorm: Keras' options (see
            `Optimizer`). Default to `None` (off).
    """

    hyperparameters = {
        "learning_rate": Hyperparameter(0.001, 0.0, low_open=True),
        "rho": Hyperparameter(0.95, 0.0, 1.0),
        "epsilon": Hyperparameter(1e-7, 0.0),
        **COMMON_OPTIONS,
    }

    def build_slots(self, data):
        self.add_slot("accumulated_grad", data)
        self.add_slot("accumulated_delta_var", data)

    def update(self, param, grad, step):
        h = self.h
        rho, epsilon = h["rho"], h["epsilon"]
        accumulated_grad = self.slots["accumulated_grad"]
        accumulated_delta_var = self.slots["accumulated_delta_var"]
        accumulated_grad.mul_(rho).add_((1 - rho) * grad.square())
        rms_delta = (accumulated_delta_var + epsilon).sqrt_()
        delta = (rms_delta * grad).div_((accumulated_grad + epsilon).sqrt_()).neg_()
        accumulated_delta_var.mul_(rho).add_((1 - rho) * delta.square())
        param.add_(h["learning_rate"] * delta)
