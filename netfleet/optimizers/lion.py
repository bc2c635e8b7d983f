"""Lion (Chen et al., 2023), the sign of an interpolated momentum, as Keras 3 writes it."""

from netfleet import registry
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.hyperparameters import COMMON_OPTIONS, Hyperparameter


@registry.register("optimizer")
class Lion(Optimizer):
    """Step by the sign of a mix of the momentum and the gradient: every weight moves by
    exactly the learning rate (so Lion's rates are usually 3-10 times smaller than Adam's).

    Keras' update, with the momentum `m` zero at the start::

        w = w - learning_rate * sign(beta_1 * m + (1 - beta_1) * g)
        m = beta_2 * m + (1 - beta_2) * g

    Args:
        learning_rate: A float or a schedule. Defaults to `0.001`.
        beta_1: The mix of the update, in (0, 1]. Defaults to `0.9`.
        beta_2: The decay of the momentum, in [0, 1]. Defaults to `0.99`.
        weight_decay, clipnorm, clipvalue, global_clipnorm: Keras' options (see
            `Optimizer`). Default to `None` (off).
    """

    hyperparameters = {
        "learning_rate": Hyperparameter(0.001, 0.0, low_open=True),
        "beta_1": Hyperparameter(0.9, 0.0, 1.0, low_open=True, high_open=False),
        "beta_2": Hyperparameter(0.99, 0.0, 1.0, high_open=False),
        **COMMON_OPTIONS,
    }

    def build_slots(self, data):
        self.add_slot("momentum", data)

    def update(self, param, grad, step):
        h = self.h
        beta_1, beta_2 = h["beta_1"], h["beta_2"]
        momentum = self.slots["momentum"]
        param.sub_(h["learning_rate"] * (momentum * beta_1 + grad * (1.0 - beta_1)).sign_())
        momentum.mul_(beta_2).add_(grad * (1.0 - beta_2))
