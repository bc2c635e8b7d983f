"""Adagrad (Duchi et al., 2011) as Keras writes it (epsilon inside the square root)."""

from netfleet import registry
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.hyperparameters import COMMON_OPTIONS, Hyperparameter


@registry.register("optimizer")
class Adagrad(Optimizer):
    """Scale each parameter's step by the root of the sum of its past squared gradients.

    Keras' update, with the accumulator starting at `initial_accumulator_value`::

        accumulator = accumulator + g**2
        w = w - learning_rate * g / sqrt(accumulator + epsilon)

    Args:
        learning_rate: A float or a schedule. Defaults to `0.001`.
        initial_accumulator_value: Starting value of the accumulator, >= 0.
            Defaults to `0.1`.
        epsilon: Defaults to `1e-7`.
        weight_decay, clipnorm, clipvalue, global_clipnorm: Keras' options (see
            `Optimizer`). Default to `None` (off).
    """

    hyperparameters = {
        "learning_rate": Hyperparameter(0.001, 0.0, low_open=True),
        "initial_accumulator_value": Hyperparameter(0.1, 0.0),
        "epsilon": Hyperparameter(1e-7, 0.0),
        **COMMON_OPTIONS,
    }

    def build_slots(self, data):
        self.add_slot("accumulator", data)
        self.slots["accumulator"].add_(self.h["initial_accumulator_value"])

    def update(self, param, grad, step):
        h = self.h
        accumulator = self.slots["accumulator"]
        accumulator.add_(grad.square())
        step_size = (h["learning_rate"] * grad).div_((accumulator + h["epsilon"]).sqrt_())
        param.sub_(step_size)
