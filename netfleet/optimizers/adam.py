"""Adam (Kingma & Ba, 2014) as Keras writes it (epsilon outside the bias correction)."""

from netfleet.optimizers.base import Hyperparameter, Optimizer

# Adam, Adamax and Nadam share these, with Keras' defaults.
ADAM_HYPERPARAMETERS = {
    "learning_rate": Hyperparameter(0.001, 0.0, low_open=True),
    "beta_1": Hyperparameter(0.9, 0.0, 1.0),
    "beta_2": Hyperparameter(0.999, 0.0, 1.0),
    "epsilon": Hyperparameter(1e-7, 0.0),
}


class Adam(Optimizer):
    """Adam, with Keras' defaults (`epsilon=1e-7`, unlike PyTorch's 1e-8).

    Keras' update at step t::

        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w = w - alpha * m / (sqrt(v) + epsilon)

    Args:
        learning_rate: Defaults to `0.001`.
        beta_1: Defaults to `0.9`.
        beta_2: Defaults to `0.999`.
        epsilon: Defaults to `1e-7`.
    """

    hyperparameters = ADAM_HYPERPARAMETERS

    def build_slots(self, data):
        self.add_slot("m", data)
        self.add_slot("v", data)

    def update(self, param, grad, step):
        h = self.h
        m, v = self.slots["m"], self.slots["v"]
        m.lerp_(grad, 1 - h["beta_1"])
        v.lerp_(grad * grad, 1 - h["beta_2"])
        alpha = h["learning_rate"] * (1 - h["beta_2"] ** step).sqrt() / (1 - h["beta_1"] ** step)
        param.addcdiv_(m * alpha, v.sqrt().add_(h["epsilon"]), value=-1.0)
