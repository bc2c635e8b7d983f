"""Stochastic gradient descent with momentum and Nesterov momentum, as Keras defines it."""

from netfleet import registry
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.hyperparameters import COMMON_OPTIONS, Hyperparameter


@registry.register("optimizer")
class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum.

    Keras' update, with velocity `v` (zero at the start)::

        v = momentum * v - learning_rate * g
        w = w + momentum * v - learning_rate * g   if nesterov
        w = w + v                                   otherwise

    Args:
        learning_rate: A float or a schedule. Defaults to `0.01`.
        momentum: In [0, 1]. Defaults to `0.0`.
        nesterov: Defaults to `False`.
        weight_decay, clipnorm, clipvalue, global_clipnorm: Keras' options (see
            `Optimizer`). Default to `None` (off).
    """

    hyperparameters = {
        "learning_rate": Hyperparameter(0.01, 0.0, low_open=True),
        "momentum": Hyperparameter(0.0, 0.0, 1.0, high_open=False),
        "nesterov": Hyperparameter(False, kind=bool),
        **COMMON_OPTIONS,
    }

    def build_slots(self, data):
        self.uses_momentum = bool((self.h["momentum"] > 0).any())
        if self.uses_momentum:
            self.add_slot("velocity", data)

    def update(self, param, grad, step):
        lr = self.h["learning_rate"]
        if not self.uses_momentum:
            param.sub_(grad * lr)
            return
        momentum, nesterov = self.h["momentum"], self.h["nesterov"]
        velocity = self.slots["velocity"]
        step_down = grad * lr
        velocity.mul_(momentum).sub_(step_down)
        plain = velocity
        ahead = velocity * momentum - step_down
        param.add_(plain + nesterov * (ahead - plain))
