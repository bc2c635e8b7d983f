"""Loss functions with Keras' names and formulas.

Each loss is a pure function of `y_true` and `y_pred` returning one value per example,
shape `(M, batch)`; the engine averages over the batch for each member. The cross-entropies
also have a form on logits, which the engine uses when the model ends in the matching
activation (as Keras' TensorFlow backend does): the same values, computed stably and faster.
The cross-entropies on logits and mean squared error also carry their gradient written by
hand (`Gradient`), which the engine's fused training step uses instead of autograd.
"""

import torch
import torch.nn.functional as F

from netfleet import registry
from netfleet.errors import InvalidTypeError, unknown_name_error
from netfleet.ops import classes

EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [eps, 1 - eps]


def mean_last(values):
    """Mean over the last axis (a free squeeze when it has one element, e.g. one output unit)."""
    return values.squeeze(-1) if values.shape[-1] == 1 else values.mean(-1)


@registry.register("loss")
def binary_crossentropy(y_true, y_pred):
    """`-mean(y log p + (1 - y) log(1 - p))` over the last axis, p clipped to [eps, 1 - eps]."""
    p = y_pred.clamp(EPSILON, 1 - EPSILON)
    return -mean_last(y_true * torch.log(p) + (1 - y_true) * torch.log(1 - p))


def binary_crossentropy_from_logits(y_true, logits):
    target = y_true.expand_as(logits)
    return mean_last(F.binary_cross_entropy_with_logits(logits, target, reduction="none"))


@registry.register("loss")
def categorical_crossentropy(y_true, y_pred):
    """`-sum(y log p)` over the last axis, p normalised then clipped to [eps, 1 - eps]."""
    p = (y_pred / y_pred.sum(-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON)
    return -(y_true * torch.log(p)).sum(-1)


def categorical_crossentropy_from_logits(y_true, logits):
    return -(y_true * classes.log_softmax(logits)).sum(-1)


@registry.register("loss")
def sparse_categorical_crossentropy(y_true, y_pred):
    """`-log p[y]` with integer labels `y`, p clipped to [eps, 1 - eps]."""
    index = y_true.long().expand(y_pred.shape[:-1]).unsqueeze(-1)
    p = (y_pred / y_pred.sum(-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON)
    return -torch.log(p.gather(-1, index)).squeeze(-1)


def sparse_categorical_crossentropy_from_logits(y_true, logits):
    index = y_true.long().expand(logits.shape[:-1]).unsqueeze(-1)
    return -classes.log_softmax(logits).gather(-1, index).squeeze(-1)


@registry.register("loss")
def mean_squared_error(y_true, y_pred):
    return mean_last((y_pred - y_true).square())


@registry.register("loss")
def mean_absolute_error(y_true, y_pred):
    return mean_last((y_pred - y_true).abs())


# -- gradients, for training steps that write their backward pass by hand -----------------------
_MINUS_ONE = torch.tensor(-1.0)  # the CPU constant; other devices make theirs per call


def binary_crossentropy_logits_gradient(y_true, logits):
    """`sigmoid(logits) - y`: units × d(binary cross-entropy)/d(logits) (a mean over units)."""
    return torch.sigmoid(logits).sub_(y_true)


def categorical_crossentropy_logits_gradient(y_true, logits):
    """`softmax(logits) - y`: d(cross-entropy)/d(logits) for one-hot or soft targets."""
    return classes.softmax(logits).sub_(y_true)


def sparse_categorical_crossentropy_logits_gradient(y_true, logits):
    """`softmax(logits) - one_hot(y)`: d(cross-entropy)/d(logits) for class indices `y`."""
    index = y_true.expand(logits.shape[:-1]).unsqueeze(-1)
    minus_one = _MINUS_ONE if logits.is_cpu else logits.new_full((), -1.0)
    return classes.softmax(logits).scatter_add_(-1, index, minus_one.expand(index.shape))


def mean_squared_error_gradient(y_true, y_pred):
    """`y_pred - y`: units / 2 × d(mean squared error)/d(y_pred)."""
    return y_pred - y_true


def _summed_over_units(units):
    """1: the gradient of a loss summed over units is written exactly."""
    return 1


def _mean_over_units(units):
    """`units`: a loss averaged over units has a `1 / units` in its gradient, left out."""
    return units


def _mean_square_over_units(units):
    """`units / 2`: a mean of squares over units has a `2 / units` in its gradient, left out."""
    return units / 2


class Gradient:
    """A loss's gradient written by hand, per example and unit.

    Args:
        fn: `(y_true, y_pred) -> (M, batch, units)`, `factor(units)` times the gradient of
            each example's loss with respect to `y_pred` (logits for a logits form). The
            constant left in (a mean over units, a square's 2) spares an elementwise op: a
            training step folds it into the per-example scaling it applies anyway.
        factor: `units -> float`.
    """

    def __init__(self, fn, factor):
        self.fn = fn
        self.factor = factor


class Loss:
    """A named loss: its function, its logits form and the activation that form replaces.

    Args:
        fn: `(y_true, y_pred) -> (M, batch)`.
        name: The Keras name.
        logits_fn: The same loss computed on pre-activation outputs, if there is one.
        logits_activation: The final activation whose logits `logits_fn` expects.
        labels: What `y` must hold: "probabilities", "one_hot", "integers" or "values".
        gradient: The `Gradient` of `fn`, if it has one written by hand.
        logits_gradient: The `Gradient` of `logits_fn` with respect to the logits, if any.
    """

    def __init__(
        self,
        fn,
        name,
        logits_fn=None,
        logits_activation=None,
        labels="values",
        gradient=None,
        logits_gradient=None,
    ):
        self.fn = fn
        self.name = name
        self.logits_fn = logits_fn
        self.logits_activation = logits_activation
        self.labels = labels
        self.gradient = gradient
        self.logits_gradient = logits_gradient
        self.direction = "min"

    def __call__(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<Loss {self.name}>"


def _catalog():
    """The engine's extras of registered loss functions (logits forms, gradients), by function."""
    return {
        binary_crossentropy: Loss(
            binary_crossentropy,
            "binary_crossentropy",
            binary_crossentropy_from_logits,
            "sigmoid",
            "probabilities",
            logits_gradient=Gradient(binary_crossentropy_logits_gradient, _mean_over_units),
        ),
        categorical_crossentropy: Loss(
            categorical_crossentropy,
            "categorical_crossentropy",
            categorical_crossentropy_from_logits,
            "softmax",
            "one_hot",
            logits_gradient=Gradient(categorical_crossentropy_logits_gradient, _summed_over_units),
        ),
        sparse_categorical_crossentropy: Loss(
            sparse_categorical_crossentropy,
            "sparse_categorical_crossentropy",
            sparse_categorical_crossentropy_from_logits,
            "softmax",
            "integers",
            logits_gradient=Gradient(
                sparse_categorical_crossentropy_logits_gradient, _summed_over_units
            ),
        ),
        mean_squared_error: Loss(
            mean_squared_error,
            "mean_squared_error",
            gradient=Gradient(mean_squared_error_gradient, _mean_square_over_units),
        ),
        mean_absolute_error: Loss(mean_absolute_error, "mean_absolute_error"),
    }


ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}


def get(identifier):
    """Return a `Loss` for a Keras name, a `Loss`, or a callable `(y_true, y_pred)`."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        registered = registry.entries("loss")
        name = ALIASES.get(identifier, identifier)
        if name not in registered:
            raise unknown_name_error("loss", identifier, list(registered) + list(ALIASES))
        return _catalog().get(registered[name]) or Loss(registered[name], name)
    if callable(identifier):
        return Loss(identifier, getattr(identifier, "__name__", "custom_loss"))
    raise InvalidTypeError(f"A loss must be a name, a Loss or a callable. Got {identifier!r}.")
