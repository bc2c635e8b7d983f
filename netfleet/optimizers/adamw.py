"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, as Keras 3 writes it
(Keras' Adam with a weight decay that must be set, 0.004 by default)."""

from netfleet import registry
from netfleet.optimizers.adam import ADAM_HYPERPARAMETERS, Adam
from netfleet.optimizers.hyperparameters import Hyperparameter


@registry.register("optimizer")
class AdamW(Adam):
    """Adam whose weights also shrink by `learning_rate * weight_decay` at each step, before
    the Adam update::

        w = w - w * weight_decay * learning_rate
        (then Adam's update, see `Adam`)

    Args:
        learning_rate: A float or a schedule. Defaults to `0.001`.
        weight_decay: >= 0. Defaults to `0.004`.
        beta_1: Defaults to `0.9`.
        beta_2: Defaults to `0.999`.
        epsilon: Defaults to `1e-7`.
        amsgrad: Defaults to `False`.
        clipnorm, clipvalue, global_clipnorm: Keras' options (see `Optimizer`). Default to
            `None` (off).

    Example:
        >>> AdamW().get_config()["weight_decay"]
        0.004
    """

    hyperparameters = {
        "learning_rate": ADAM_HYPERPARAMETERS["learning_rate"],
        "weight_decay": Hyperparameter(0.004, 0.0),
        **{
            key: spec
            for key, spec in Adam.hyperparameters.items()
            if key not in ("learning_rate", "weight_decay")
        },
    }
