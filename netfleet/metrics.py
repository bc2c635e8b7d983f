"""Metrics that accumulate on the device over an epoch, one value per member.

A metric keeps running sums of shape `(M, ...)`; `update` adds a batch, `result` returns
`(M,)`. Nothing is read back to the host until the engine asks for the epoch's result.
"""

import functools
import numbers

import torch

from netfleet import losses, registry
from netfleet.errors import InvalidTypeError, argument_error, check_positive_int, unknown_name_error
from netfleet.ops import classes


@registry.register("metric")
def binary_accuracy(y_true, y_pred, threshold=0.5):
    return losses.mean_last(((y_pred > threshold) == (y_true > 0.5)).float())


@registry.register("metric")
def categorical_accuracy(y_true, y_pred):
    return (classes.argmax(y_pred) == classes.argmax(y_true)).float()


@registry.register("metric")
def sparse_categorical_accuracy(y_true, y_pred):
    return (classes.argmax(y_pred) == y_true.long()).float()


class Metric:
    """Base class: device-side state over M members, `direction` "max" or "min"."""

    direction = "max"

    def __init__(self, name):
        if not isinstance(name, str) or not name:
            raise argument_error("name", type(self).__name__, "a non-empty string", name)
        self.name = name

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def reset(self, members):
        """Start over for `members` members, making the state on the default device (the
        engine calls it under `torch.device(...)`, so it lands where the batches are)."""
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


@registry.register("metric")
class Accuracy(MeanMetric):
    """The fraction of correct predictions; `kind` says how one is read off the outputs:
    `"binary"` (threshold 0.5), `"categorical"` (argmax of one-hot labels) or `"sparse"`
    (argmax against integer labels)."""

    KINDS = {
        "binary": binary_accuracy,
        "categorical": categorical_accuracy,
        "sparse": sparse_categorical_accuracy,
    }

    def __init__(self, name="accuracy", kind="binary"):
        if kind not in self.KINDS:
            raise argument_error("kind", "Accuracy", f"one of {tuple(self.KINDS)}", kind)
        super().__init__(self.KINDS[kind], name)
        self.kind = kind

    def get_config(self):
        return {"name": self.name, "kind": self.kind}

    def update_from_logits(self, y_true, logits, activation, weights=None):
        """Argmax and the 0.5 threshold read the same off logits (sigmoid(z) > 0.5 iff z > 0)."""
        if self.kind == "binary":
            self._add(binary_accuracy(y_true, logits, threshold=0.0), weights)
        else:
            self._add(self.fn(y_true, logits), weights)


@registry.register("metric")
class MeanSquaredError(MeanMetric):
    def __init__(self, name="mean_squared_error"):
        super().__init__(losses.mean_squared_error, name, "min")


@registry.register("metric")
class MeanAbsoluteError(MeanMetric):
    def __init__(self, name="mean_absolute_error"):
        super().__init__(losses.mean_absolute_error, name, "min")


@registry.register("metric")
class AUC(Metric):
    """Area under the ROC curve from `num_thresholds` confusion counts, as Keras computes it
    (trapezoidal "interpolation" summation; labels and scores flattened)."""

    def __init__(self, num_thresholds=200, name="auc"):
        super().__init__(name)
        self.num_thresholds = check_positive_int(num_thresholds, "num_thresholds", "AUC", minimum=2)
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.thresholds = torch.tensor([-1e-7, *inner, 1 + 1e-7])

    def reset(self, members):
        self.positives = torch.zeros(members, self.num_thresholds + 1)
        self.negatives = torch.zeros(members, self.num_thresholds + 1)
        self.thresholds = self.thresholds.to(self.positives.device)  # beside the counts

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

    def get_config(self):
        return {"num_thresholds": self.num_thresholds, "name": self.name}


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the class of one-hot `y_true` is among the `k` highest scores of `y_pred`,
    else 0 (`(M, B)`); classes tied at the boundary all count as in, as Keras'
    `ops.in_top_k` does."""
    return _in_top_k(y_true.argmax(-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """`top_k_categorical_accuracy` for integer labels."""
    return _in_top_k(y_true.long(), y_pred, k)


def _in_top_k(target, y_pred, k):
    target = target.expand(y_pred.shape[:-1])
    score = y_pred.gather(-1, target.unsqueeze(-1))
    return ((y_pred > score).sum(-1) < k).float()


@registry.register("metric")
class RootMeanSquaredError(MeanMetric):
    """The root of the (weighted) mean over examples of each example's mean squared error."""

    def __init__(self, name="root_mean_squared_error"):
        super().__init__(losses.mean_squared_error, name, "min")

    def result(self):
        return super().result().sqrt()


@registry.register("metric")
class TopKCategoricalAccuracy(MeanMetric):
    """How often the class of one-hot labels is among the `k` highest predictions.

    Args:
        k: How many of the highest predictions count. Defaults to `5`.
        name: Defaults to `"top_k_categorical_accuracy"`.
    """

    function = staticmethod(top_k_categorical_accuracy)

    def __init__(self, k=5, name="top_k_categorical_accuracy"):
        self.k = check_positive_int(k, "k", type(self).__name__)
        super().__init__(functools.partial(self.function, k=self.k), name)

    def get_config(self):
        return {"k": self.k, "name": self.name}


@registry.register("metric")
class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """`TopKCategoricalAccuracy` for integer labels."""

    function = staticmethod(sparse_top_k_categorical_accuracy)

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy"):
        super().__init__(k, name)


class ConfusionRatio(Metric):
    """`tp / (tp + other)` over an epoch, from confusion counts as Keras counts them: every
    value of the outputs (one column with `class_id`) is a prediction, positive above the
    threshold; a label is positive when nonzero; `top_k` keeps only each example's `k`
    highest predictions (the others count as negative). 0 while nothing is counted.

    Args:
        thresholds: The threshold, in [0, 1], or a list of one. Defaults to 0.5 (without
            `top_k`), or to every kept prediction counting as positive (with it).
        top_k: Keep each example's `k` highest predictions. Defaults to `None` (all).
        class_id: Score this column of the outputs only. Defaults to `None` (all).
        name: Defaults to the class name in snake case (`"precision"`, `"recall"`).
    """

    other = None  # "false_positives" or "false_negatives"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None):
        owner = type(self).__name__
        super().__init__(owner.lower() if name is None else name)
        self.thresholds = thresholds
        self.threshold = _threshold(thresholds, owner, default=0.5 if top_k is None else -1e10)
        if top_k is not None:
            check_positive_int(top_k, "top_k", owner)
        if class_id is not None:
            check_positive_int(class_id, "class_id", owner, minimum=0)
        self.top_k, self.class_id = top_k, class_id

    def reset(self, members):
        self.true_positives = torch.zeros(members)
        self.others = torch.zeros(members)

    def update(self, y_true, y_pred, weights=None):
        if self.top_k is not None:
            kept = torch.zeros_like(y_pred, dtype=torch.bool)
            kept.scatter_(-1, y_pred.topk(min(self.top_k, y_pred.shape[-1]), -1).indices, True)
            y_pred = y_pred.masked_fill(~kept, -1e10)
        y_true = y_true.expand_as(y_pred)
        if self.class_id is not None:
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
        predicted, actual = y_pred > self.threshold, y_true != 0
        other = predicted & ~actual if self.other == "false_positives" else ~predicted & actual
        self.true_positives += self._count(predicted & actual, weights)
        self.others += self._count(other, weights)

    @staticmethod
    def _count(cases, weights):
        if weights is not None:
            weights = weights.reshape(*weights.shape, *[1] * (cases.ndim - 2))
            cases = torch.where(cases, weights, 0.0)
        return cases.reshape(cases.shape[0], -1).sum(1)

    def result(self):
        total = self.true_positives + self.others
        return torch.where(total > 0, self.true_positives / total.clamp_min(1e-30), 0.0)

    def get_config(self):
        return {
            "thresholds": self.thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
            "name": self.name,
        }


@registry.register("metric")
class Precision(ConfusionRatio):
    """The fraction of positive predictions that are right: `tp / (tp + fp)`."""

    other = "false_positives"


@registry.register("metric")
class Recall(ConfusionRatio):
    """The fraction of positive labels predicted positive: `tp / (tp + fn)`."""

    other = "false_negatives"


def _threshold(thresholds, owner, default):
    """The one threshold of `thresholds` (a number or a list of one), or `default`."""
    if thresholds is None:
        return default
    value = thresholds
    if isinstance(thresholds, (list, tuple)) and len(thresholds) == 1:
        value = thresholds[0]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        expected = (
            "a float in [0, 1] or a list of one (netfleet logs one value per member, so one "
            "threshold)"
        )
        raise argument_error("thresholds", owner, expected, thresholds)
    return float(value)


# "accuracy" means the accuracy that fits the loss; the other names are Keras' spellings
# of registered metrics. Every registered metric is also known by its own name.
ACCURACY_NAMES = ("accuracy", "acc")
ALIASES = {
    "mse": "MeanSquaredError",
    "mean_squared_error": "MeanSquaredError",
    "mae": "MeanAbsoluteError",
    "mean_absolute_error": "MeanAbsoluteError",
    "auc": "AUC",
    "root_mean_squared_error": "RootMeanSquaredError",
    "precision": "Precision",
    "recall": "Recall",
    "top_k_categorical_accuracy": "TopKCategoricalAccuracy",
    "sparse_top_k_categorical_accuracy": "SparseTopKCategoricalAccuracy",
}


def accuracy_kind(loss, output_units):
    """Which accuracy Keras means by "accuracy" for this loss and output size."""
    if loss.labels == "integers":
        return "sparse"
    if output_units == 1 or loss.labels == "probabilities":
        return "binary"
    return "categorical"


def get(identifier, loss, output_units):
    """Return a fresh `Metric` for a name, a Metric instance or class, or a callable.

    A name stands for a registered metric: its class, or its function (named as given); an
    alias names the metric after itself (`"mse"` logs as `mse`); `"accuracy"` is the
    accuracy that fits `loss` and `output_units`.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        return _from_name(identifier, loss, output_units)
    if callable(identifier):
        return _from_function(identifier, getattr(identifier, "__name__", "custom_metric"))
    raise InvalidTypeError(f"A metric must be a name, a Metric or a callable. Got {identifier!r}.")


def _from_name(name, loss, output_units):
    if name in ACCURACY_NAMES:
        return Accuracy(name, accuracy_kind(loss, output_units))
    registered = registry.entries("metric")
    known = registered.get(ALIASES.get(name, name))
    if known is None:
        raise unknown_name_error("metric", name, [*ACCURACY_NAMES, *ALIASES, *registered])
    if not isinstance(known, type):
        return _from_function(known, name)
    return known() if name in registered else known(name=name)


def _from_function(fn, name):
    """An accuracy function gives its `Accuracy` (which reads logits too); any other
    per-example function its mean."""
    kinds = {function: kind for kind, function in Accuracy.KINDS.items()}
    if fn in kinds:
        return Accuracy(name, kinds[fn])
    return MeanMetric(fn, name)


__all__ = [
    "AUC",
    "Accuracy",
    "ConfusionRatio",
    "MeanAbsoluteError",
    "MeanMetric",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "get",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]
