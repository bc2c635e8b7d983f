"""Loss functions with Keras' names and formulas.

Each loss is a pure function of `y_true` and `y_pred` returning one value per example,
shape `(M, batch)`; the engine averages over the batch for each member. The cross-entropies
also have a form on logits, which the engine uses when the model ends in the matching
activation (as Keras' TensorFlow backend does): the same values, computed stably and faster.
"""

import torch
import torch.nn.functional as F

from netfleet.errors import InvalidTypeError, unknown_name_error

EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [eps, 1 - eps]


def mean_last(values):
    """Mean over the last axis (a free squeeze when it has one element, e.g. one output unit)."""
    return values.squeeze(-1) if values.shape[-1] == 1 else values.mean(-1)


def binary_crossentropy(y_true, y_pred):
    """`-mean(y log p + (1 - y) log(1 - p))` over the last axis, p clipped to [eps, 1 - eps]."""
    p = y_pred.clamp(EPSILON, 1 - EPSILON)
    return -mean_last(y_true * torch.log(p) + (1 - y_true) * torch.log(1 - p))


def binary_crossentropy_from_logits(y_true, logits):
    target = y_true.expand_as(logits)
    return mean_last(F.binary_cross_entropy_with_logits(logits, target, reduction="none"))


def categorical_crossentropy(y_true, y_pred):
    """`-sum(y log p)` over the last axis, p normalised then clipped to [eps, 1 - eps]."""
    p = (y_pred / y_pred.sum(-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON)
    return -(y_true * torch.log(p)).sum(-1)


def categorical_crossentropy_from_logits(y_true, logits):
    classes = logits.shape[-1]
    target = y_true.expand_as(logits).reshape(-1, classes)
    loss = F.cross_entropy(logits.reshape(-1, classes), target, reduction="none")
    return loss.view(logits.shape[:-1])


def sparse_categorical_crossentropy(y_true, y_pred):
    """`-log p[y]` with integer labels `y`, p clipped to [eps, 1 - eps]."""
    index = y_true.long().expand(y_pred.shape[:-1]).unsqueeze(-1)
    p = (y_pred / y_pred.sum(-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON)
    return -torch.log(p.gather(-1, index)).squeeze(-1)


def sparse_categorical_crossentropy_from_logits(y_true, logits):
    classes = logits.shape[-1]
    target = y_true.long().expand(logits.shape[:-1]).reshape(-1)
    loss = F.cross_entropy(logits.reshape(-1, classes), target, reduction="none")
    return loss.view(logits.shape[:-1])


def mean_squared_error(y_true, y_pred):
    return mean_last((y_pred - y_true).square())


def mean_absolute_error(y_true, y_pred):
    return mean_last((y_pred - y_true).abs())


class Loss:
    """A named loss: its function, its logits form and the activation that form replaces.

    Args:
        fn: `(y_true, y_pred) -> (M, batch)`.
        name: The Keras name.
        logits_fn: The same loss computed on pre-activation outputs, if there is one.
        logits_activation: The final activation whose logits `logits_fn` expects.
        labels: What `y` must hold: "probabilities", "one_hot", "integers" or "values".
    """

    def __init__(self, fn, name, logits_fn=None, logits_activation=None, labels="values"):
        self.fn = fn
        self.name = name
        self.logits_fn = logits_fn
        self.logits_activation = logits_activation
        self.labels = labels
        self.direction = "min"

    def __call__(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<Loss {self.name}>"


def _catalog():
    return {
        "binary_crossentropy": Loss(
            binary_crossentropy,
            "binary_crossentropy",
            binary_crossentropy_from_logits,
            "sigmoid",
            "probabilities",
        ),
        "categorical_crossentropy": Loss(
            categorical_crossentropy,
            "categorical_crossentropy",
            categorical_crossentropy_from_logits,
            "softmax",
            "one_hot",
        ),
        "sparse_categorical_crossentropy": Loss(
            sparse_categorical_crossentropy,
            "sparse_categorical_crossentropy",
            sparse_categorical_crossentropy_from_logits,
            "softmax",
            "integers",
        ),
        "mean_squared_error": Loss(mean_squared_error, "mean_squared_error"),
        "mean_absolute_error": Loss(mean_absolute_error, "mean_absolute_error"),
    }


ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}


def get(identifier):
    """Return a `Loss` for a Keras name, a `Loss`, or a callable `(y_true, y_pred)`."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        catalog = _catalog()
        name = ALIASES.get(identifier, identifier)
        if name not in catalog:
            raise unknown_name_error("loss", identifier, list(catalog) + list(ALIASES))
        return catalog[name]
    if callable(identifier):
        return Loss(identifier, getattr(identifier, "__name__", "custom_loss"))
    raise InvalidTypeError(f"A loss must be a name, a Loss or a callable. Got {identifier!r}.")
