"""Metrics that accumulate on the device over an epoch, one value per member.

A metric keeps running sums of shape `(M, ...)`; `update` adds a batch, `result` returns
`(M,)`. Nothing is read back to the host until the engine asks for the epoch's result.
"""

import torch

from netfleet import losses
from netfleet.errors import InvalidTypeError, unknown_name_error


def binary_accuracy(y_true, y_pred, threshold=0.5):
    return losses.mean_last(((y_pred > threshold) == (y_true > 0.5)).float())


def categorical_accuracy(y_true, y_pred):
    return (y_pred.argmax(-1) == y_true.argmax(-1)).float()


def sparse_categorical_accuracy(y_true, y_pred):
    return (y_pred.argmax(-1) == y_true.long()).float()


class Metric:
    """Base class: device-side state over M members, `direction` "max" or "min"."""

    direction = "max"

    def __init__(self, name):
        self.name = name

    def reset(self, members):
        raise NotImplementedError

    def update(self, y_true, y_pred, weights=None):
        raise NotImplementedError

    def update_from_logits(self, y_true, logits, activation, weights=None):
        """Update from pre-activation outputs (the engine's fast path); by default applies
        the activation first."""
        self.update(y_true, activation(logits), weights)

    def result(self):
        raise NotImplementedError


class MeanMetric(Metric):
    """The (weighted) mean over all examples of a per-example function."""

    def __init__(self, fn, name, direction="max"):
        super().__init__(name)
        self.fn = fn
        self.direction = direction

    def reset(self, members):
        self.total = torch.zeros(members)
        self.count = 0.0  # a host number while unweighted: no device op per batch

    def update(self, y_true, y_pred, weights=None):
        self._add(self.fn(y_true, y_pred), weights)

    def _add(self, values, weights):
        if weights is None:
            self.total += values.sum(1)
            self.count = self.count + values.shape[1]
        else:
            self.total += (values * weights).sum(1)
            self.count = self.count + weights.expand_as(values).sum(1)

    def result(self):
        return self.total / torch.as_tensor(self.count, dtype=torch.float32).clamp_min(1e-12)


class Accuracy(MeanMetric):
    def __init__(self, name="accuracy", kind="binary"):
        fns = {
            "binary": binary_accuracy,
            "categorical": categorical_accuracy,
            "sparse": sparse_categorical_accuracy,
        }
        super().__init__(fns[kind], name)
        self.kind = kind

    def update_from_logits(self, y_true, logits, activation, weights=None):
        """Argmax and the 0.5 threshold read the same off logits (sigmoid(z) > 0.5 iff z > 0)."""
        if self.kind == "binary":
            self._add(binary_accuracy(y_true, logits, threshold=0.0), weights)
        else:
            self._add(self.fn(y_true, logits), weights)


class MeanSquaredError(MeanMetric):
    def __init__(self, name="mean_squared_error"):
        super().__init__(losses.mean_squared_error, name, "min")


class MeanAbsoluteError(MeanMetric):
    def __init__(self, name="mean_absolute_error"):
        super().__init__(losses.mean_absolute_error, name, "min")


class AUC(Metric):
    """Area under the ROC curve from `num_thresholds` confusion counts, as Keras computes it
    (trapezoidal "interpolation" summation; labels and scores flattened)."""

    def __init__(self, num_thresholds=200, name="auc"):
        super().__init__(name)
        if num_thresholds < 2:
            raise ValueError(
                f"The 'num_thresholds' argument of AUC must be >= 2. Got {num_thresholds}."
            )
        self.num_thresholds = num_thresholds
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.thresholds = torch.tensor([-1e-7, *inner, 1 + 1e-7])

    def reset(self, members):
        self.positives = torch.zeros(members, self.num_thresholds + 1)
        self.negatives = torch.zeros(members, self.num_thresholds + 1)

    def update(self, y_true, y_pred, weights=None):
        members = y_pred.shape[0]
        score = y_pred.reshape(members, -1)
        label = y_true.expand_as(y_pred).reshape(members, -1).float()
        w = torch.ones_like(score)
        if weights is not None:
            per_example = y_pred[0].numel() // y_pred.shape[1]
            w = w * weights.expand(members, -1).repeat_interleave(per_example, dim=1)
        bucket = torch.bucketize(score.contiguous(), self.thresholds)
        self.positives.scatter_add_(1, bucket, w * label)
        self.negatives.scatter_add_(1, bucket, w * (1 - label))

    def result(self):
        # counts above threshold j: buckets k > j (bucket k holds scores above k thresholds)
        tp = self.positives.flip(1).cumsum(1).flip(1)[:, 1:]
        fp = self.negatives.flip(1).cumsum(1).flip(1)[:, 1:]
        tpr = tp / tp[:, :1].clamp_min(1e-12)
        fpr = fp / fp[:, :1].clamp_min(1e-12)
        heights = (tpr[:, :-1] + tpr[:, 1:]) / 2
        return ((fpr[:, :-1] - fpr[:, 1:]) * heights).sum(1)


_ACCURACY_NAMES = ("accuracy", "acc")
_SIMPLE = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "auc": AUC,
    "binary_accuracy": lambda name: Accuracy(name, "binary"),
    "categorical_accuracy": lambda name: Accuracy(name, "categorical"),
    "sparse_categorical_accuracy": lambda name: Accuracy(name, "sparse"),
}
_CLASSES = {
    "AUC": AUC,
    "MeanSquaredError": MeanSquaredError,
    "MeanAbsoluteError": MeanAbsoluteError,
}


def accuracy_kind(loss, output_units):
    """Which accuracy Keras means by "accuracy" for this loss and output size."""
    if loss.labels == "integers":
        return "sparse"
    if output_units == 1 or loss.labels == "probabilities":
        return "binary"
    return "categorical"


def get(identifier, loss, output_units):
    """Return a fresh `Metric` for a name, a Metric instance or class, or a callable."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier in _ACCURACY_NAMES:
            return Accuracy(identifier, accuracy_kind(loss, output_units))
        if identifier in _SIMPLE:
            return _SIMPLE[identifier](name=identifier)
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise unknown_name_error("metric", identifier, list(_ACCURACY_NAMES) + list(_SIMPLE))
    if callable(identifier):
        return MeanMetric(identifier, getattr(identifier, "__name__", "custom_metric"))
    raise InvalidTypeError(f"A metric must be a name, a Metric or a callable. Got {identifier!r}.")


__all__ = [
    "AUC",
    "Accuracy",
    "MeanAbsoluteError",
    "MeanMetric",
    "MeanSquaredError",
    "Metric",
    "binary_accuracy",
    "categorical_accuracy",
    "get",
    "sparse_categorical_accuracy",
]
