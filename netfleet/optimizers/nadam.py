"""Nadam (Dozat, 2015), Adam with Nesterov momentum, as Keras 3 writes it: the momentum
schedule `u_t = beta_1 * (1 - 0.5 * 0.96**t)` and its running product."""

from netfleet import registry
from netfleet.optimizers.adam import ADAM_HYPERPARAMETERS
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.hyperparameters import COMMON_OPTIONS


@registry.register("optimizer")
class Nadam(Optimizer):
    """Adam whose first moment looks one step ahead, with Keras' momentum schedule.

    Keras' update at step t, with `m`, `v` zero and `u_product` one at the start::

        u_t = beta_1 * (1 - 0.5 * 0.96**t)
        u_t1 = beta_1 * (1 - 0.5 * 0.96**(t + 1))
        u_product = u_product * u_t
        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        m_hat = u_t1 * m / (1 - u_product * u_t1) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - beta_2**t)
        w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)

    (Keras 3 uses `0.96**t`; PyTorch's `NAdam` and the legacy tf.keras Nadam use
    `0.96**(0.004 * t)`.)

    Args:
        learning_rate: A float or a schedule. Defaults to `0.001`.
        beta_1: Decay of the first moment, in [0, 1). Defaults to `0.9`.
        beta_2: Decay of the second moment, in [0, 1). Defaults to `0.999`.
        epsilon: Defaults to `1e-7`.
        weight_decay, clipnorm, clipvalue, global_clipnorm: Keras' options (see
            `Optimizer`). Default to `None` (off).
    """

    hyperparameters = {**ADAM_HYPERPARAMETERS, **COMMON_OPTIONS}

    def build_slots(self, data):
        self.add_slot("m", data)
        self.add_slot("v", data)
        self.add_slot("u_product", self.iterations, 1.0)

    def update(self, param, grad, step):
        h = self.h
        beta_1, beta_2 = h["beta_1"], h["beta_2"]
        m, v, u_product = self.slots["m"], self.slots["v"], self.slots["u_product"]
        u_t = beta_1 * (1 - 0.5 * 0.96**step)
        u_t1 = beta_1 * (1 - 0.5 * 0.96 ** (step + 1))
        u_product.mul_(u_t)
        m.lerp_(grad, 1 - beta_1)
        v.lerp_(grad.square(), 1 - beta_2)
        m_hat = u_t1 * m / (1 - u_product * u_t1) + (1 - u_t) * grad / (1 - u_product)
        v_hat = v / (1 - beta_2**step)
        param.sub_((m_hat * h["learning_rate"]).div_(v_hat.sqrt_().add_(h["epsilon"])))
