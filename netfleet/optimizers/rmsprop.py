"""RMSprop (Hinton, 2012) as Keras writes it: epsilon inside the square root, optional
centering, and plain (not Nesterov) momentum applied to the increment."""

from netfleet import registry
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.hyperparameters import COMMON_OPTIONS, Hyperparameter


@registry.register("optimizer")
class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square of recent gradients.

    Keras' update, with `v` the average of squared gradients, `mg` the average of gradients
    (only when centered) and `mom` the momentum buffer (only when momentum > 0), all zero at
    the start::

        v = rho * v + (1 - rho) * g**2
        mg = rho * mg + (1 - rho) * g                       if centered
        denominator = v - mg**2 + epsilon if centered else v + epsilon
        increment = learning_rate * g / sqrt(denominator)
        mom = momentum * mom + increment; w = w - mom        if momentum > 0
        w = w - increment                                     otherwise

    Args:
        learning_rate: A float or a schedule. Defaults to `0.001`.
        rho: Discount of the old squared gradients, in [0, 1]. Defaults to `0.9`.
        momentum: In [0, 1]. Defaults to `0.0`.
        epsilon: Defaults to `1e-7`.
        centered: Normalize by the estimated variance instead of the second moment.
            Defaults to `False`.
        weight_decay, clipnorm, clipvalue, global_clipnorm: Keras' options (see
            `Optimizer`). Default to `None` (off).
    """

    hyperparameters = {
        "learning_rate": Hyperparameter(0.001, 0.0, low_open=True),
        "rho": Hyperparameter(0.9, 0.0, 1.0, high_open=False),
        "momentum": Hyperparameter(0.0, 0.0, 1.0, high_open=False),
        "epsilon": Hyperparameter(1e-7, 0.0, low_open=True),
        "centered": Hyperparameter(False, kind=bool),
        **COMMON_OPTIONS,
    }

    def build_slots(self, data):
        members = data.shape[0]
        self.add_slot("velocity", data)
        if any(self.member_values("momentum", members)):
            self.add_slot("momentum", data)
        if any(self.member_values("centered", members)):
            self.add_slot("average_gradient", data)

    def update(self, param, grad, step):
        h, slots = self.h, self.slots
        rho = h["rho"]
        velocity = slots["velocity"]
        velocity.mul_(rho).add_((1 - rho) * grad.square())
        if "average_gradient" in slots:
            average_grad = slots["average_gradient"]
            average_grad.mul_(rho).add_((1 - rho) * grad)
            denominator = velocity - h["centered"] * average_grad.square() + h["epsilon"]
        else:
            denominator = velocity + h["epsilon"]
        increment = (h["learning_rate"] * grad).div_(denominator.sqrt_())
        if "momentum" in slots:
            increment = slots["momentum"].mul_(h["momentum"]).add_(increment)
        param.sub_(increment)
