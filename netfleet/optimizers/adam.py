"""Adam (Kingma & Ba, 2014) as Keras writes it (epsilon outside the bias correction), with
the AMSGrad variant (Reddi et al., 2018)."""

import torch

from netfleet import registry
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.hyperparameters import COMMON_OPTIONS, Hyperparameter

# Adam, Adamax and Nadam share these, with Keras' defaults.
ADAM_HYPERPARAMETERS = {
    "learning_rate": Hyperparameter(0.001, 0.0, low_open=True),
    "beta_1": Hyperparameter(0.9, 0.0, 1.0),
    "beta_2": Hyperparameter(0.999, 0.0, 1.0),
    "epsilon": Hyperparameter(1e-7, 0.0),
}


@registry.register("optimizer")
class Adam(Optimizer):
    """Adam, with Keras' defaults (`epsilon=1e-7`, unlike PyTorch's 1e-8).

    Keras' update at step t::

        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        v_hat = max(v_hat, v); v = v_hat                 if amsgrad
        alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w = w - alpha * m / (sqrt(v) + epsilon)

    Args:
        learning_rate: A float or a schedule. Defaults to `0.001`.
        beta_1: Defaults to `0.9`.
        beta_2: Defaults to `0.999`.
        epsilon: Defaults to `1e-7`.
        amsgrad: Step with the largest second moment so far. Defaults to `False`.
        weight_decay, clipnorm, clipvalue, global_clipnorm: Keras' options (see
            `Optimizer`). Default to `None` (off).
    """

    hyperparameters = {
        **ADAM_HYPERPARAMETERS,
        "amsgrad": Hyperparameter(False, kind=bool),
        **COMMON_OPTIONS,
    }

    def build_slots(self, data):
        self.add_slot("m", data)
        self.add_slot("v", data)
        amsgrad = self.member_values("amsgrad", data.shape[0])
        self.amsgrad_members = None  # the members stepping with v_hat, when not all do
        if any(amsgrad):
            self.add_slot("velocity_hat", data)
            if not all(amsgrad):
                self.amsgrad_members = self.h["amsgrad"] > 0

    def update(self, param, grad, step):
        h, slots = self.h, self.slots
        m, v = slots["m"], slots["v"]
        m.lerp_(grad, 1 - h["beta_1"])
        v.lerp_(torch.mul(grad, grad, out=self.scratch(0, grad)), 1 - h["beta_2"])
        if "velocity_hat" in slots:
            v_hat = torch.maximum(slots["velocity_hat"], v, out=slots["velocity_hat"])
            v = v_hat if self.amsgrad_members is None else v_hat.where(self.amsgrad_members, v)
        alpha = h["learning_rate"] * (1 - h["beta_2"] ** step).sqrt() / (1 - h["beta_1"] ** step)
        denominator = torch.sqrt(v, out=self.scratch(0, v)).add_(h["epsilon"])
        param.addcdiv_(torch.mul(m, alpha, out=self.scratch(1, m)), denominator, value=-1.0)
