"""What `compile` fixes: the optimizer, each output's loss, weight in the total loss and
metrics, and how to train, checked at once.

A loss, loss weights and metrics may be given once for every output, as a list with one entry
per output, or as a dict by output name, as Keras takes them; `Compiled.outputs(names)` reads
them against the model's outputs. As in Keras 3, `metrics` are computed without the sample
weights (class weights included) and `weighted_metrics` with them.
"""

import copy
import math
import numbers

from netfleet import activations, losses, metrics, optimizers, registry
from netfleet.engine import per_output
from netfleet.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    argument_error,
)


class OutputSpec:
    """How one output is trained and scored.

    Args:
        name: The output's name (the layer that produces it).
        loss: Its `losses.Loss`.
        loss_weight: Its factor in the total loss.
        metric_ids: Its metrics: names, `Metric` instances or classes, or callables.
        weighted_metric_ids: Its metrics computed with the sample weights, in the same forms.
    """

    def __init__(self, name, loss, loss_weight, metric_ids, weighted_metric_ids=()):
        self.name = name
        self.loss = loss
        self.loss_weight = loss_weight
        self.metric_ids = metric_ids
        self.weighted_metric_ids = list(weighted_metric_ids)

    def make_metrics(self, output_units, weighted=False):
        """Fresh metric objects (one set per use: training and validation keep apart): the
        plain metrics, or the weighted ones if `weighted`."""
        made = []
        for identifier in self.weighted_metric_ids if weighted else self.metric_ids:
            metric = metrics.get(identifier, self.loss, output_units)
            made.append(copy.deepcopy(metric) if metric is identifier else metric)
        return made


class Compiled:
    """The training configuration of a model.

    Args:
        optimizer: An optimizer or its name.
        loss: A loss, its name or a callable `(y_true, y_pred)`: one for every output, a list
            with one per output, or a dict by output name.
        metrics_list: Metrics or their names: a list for every output (a list with one entry
            per output, each a metric or a list, for a model with several outputs), or a
            dict by output name.
        run_eagerly: Whether `fit` trains through autograd even where the layers' fused
            step applies (None, Keras 2's default, counts as False). Defaults to `False`.
        jit_compile: Keras' compilation switch: `True` or `"auto"` replay the fused
            training step from a captured CUDA graph on a GPU where it qualifies (fixed
            shapes; see `netfleet.engine.captured`), with the same numbers as the eager
            step; `False` runs every step eagerly. No effect on the CPU. Defaults to
            `"auto"`.
        loss_weights: Each output's factor in the total loss that training minimises (a
            list with one per output, a dict by output name, where missing outputs weigh 1,
            or a number for a model with one output). Defaults to 1 for every output.
        weighted_metrics: Metrics computed with the sample weights (and class weights), in
            the forms `metrics_list` takes; `metrics_list`'s are computed without them, as
            in Keras 3. Defaults to none.
        output_names: The model's output names when they are known, to check the
            per-output settings now rather than at `fit`.
    """

    def __init__(
        self,
        optimizer="rmsprop",
        loss=None,
        metrics_list=None,
        run_eagerly=False,
        jit_compile="auto",
        loss_weights=None,
        output_names=None,
        weighted_metrics=None,
    ):
        if run_eagerly is not None and not isinstance(run_eagerly, bool):
            raise argument_error("run_eagerly", "compile", "True or False", run_eagerly)
        if not isinstance(jit_compile, bool) and not (
            isinstance(jit_compile, str) and jit_compile == "auto"
        ):
            raise argument_error("jit_compile", "compile", "True, False or 'auto'", jit_compile)
        self.run_eagerly = bool(run_eagerly)
        self.jit_compile = jit_compile
        if loss is None:
            raise InvalidTypeError(
                "compile() needs a loss, e.g. loss='categorical_crossentropy'. Got None."
            )
        self.optimizer = optimizers.get(optimizer)
        self.loss = _losses(loss)
        self.loss_weights = _loss_weights(loss_weights)
        self.metric_ids = _metric_ids(metrics_list, _first_loss(self.loss))
        self.weighted_metric_ids = _metric_ids(
            weighted_metrics, _first_loss(self.loss), "weighted_metrics"
        )
        self._outputs = {}
        if output_names is not None:
            self.outputs(output_names)

    def outputs(self, names):
        """Each output's `OutputSpec`, in the order of `names` (the model's output names).

        Raises:
            InvalidArgumentError: a list does not have one entry per output, or a dict names
                an output the model does not have (or a loss dict misses one).
        """
        key = tuple(names)
        if key not in self._outputs:
            output_losses = per_output.output_losses(self.loss, key)
            weights = per_output.output_weights(self.loss_weights, key)
            output_metrics = per_output.output_metrics(self.metric_ids, key)
            weighted = per_output.output_metrics(self.weighted_metric_ids, key, "weighted_metrics")
            self._outputs[key] = [
                OutputSpec(*spec)
                for spec in zip(key, output_losses, weights, output_metrics, weighted)
            ]
        return self._outputs[key]

    def logits_activation(self, final_activation):
        """The activation to apply to logits when the model's one loss reads logits of it."""
        return logits_activation(self.loss, final_activation)

    def arguments(self):
        """The `compile` arguments, besides the optimizer, that make an equal configuration
        (for fleets stacked from models, or members unstacked from a fleet)."""
        return {
            "loss": self.loss,
            "metrics": self.metric_ids,
            "weighted_metrics": self.weighted_metric_ids,
            "loss_weights": self.loss_weights,
            "run_eagerly": self.run_eagerly,
            "jit_compile": self.jit_compile,
        }

    def signature(self):
        """What must agree for models to train in one fleet: losses (by name), metrics
        (weighted or not), loss weights and the training path."""
        return repr(
            (
                _map(self.loss, lambda loss: loss.name),
                _map(self.metric_ids, _metric_key),
                _map(self.weighted_metric_ids, _metric_key),
                self.loss_weights,
                self.run_eagerly,
            )
        )

    def get_config(self):
        config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": _map(self.loss, lambda loss: loss.name),
            "metrics": _map(self.metric_ids, _metric_name),
        }
        if self.weighted_metric_ids:  # written only when given: older configs stay the same
            config["weighted_metrics"] = _map(self.weighted_metric_ids, _metric_name)
        if self.loss_weights is not None:
            config["loss_weights"] = self.loss_weights
        return config


def logits_activation(loss, final_activation):
    """The activation to apply to logits, when `loss` can be computed on them and the output
    ends in that activation; else None."""
    if loss.logits_fn is None or loss.logits_activation is None:
        return None
    expected = activations.get(loss.logits_activation)
    return expected if final_activation is expected else None


# -- compile's arguments, checked alone ------------------------------------------------------------
def _losses(loss):
    """A `Loss`, or a list or dict of them (one per output)."""
    if isinstance(loss, (dict, list, tuple)) and not loss:
        expected = "a loss, or a non-empty list or dict of losses (one per output)"
        raise argument_error("loss", "compile", expected, loss)
    if isinstance(loss, dict):
        return {_output_key(key, "loss"): losses.get(value) for key, value in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [losses.get(value) for value in loss]
    return losses.get(loss)


def _first_loss(loss):
    if isinstance(loss, dict):
        return next(iter(loss.values()))
    return loss[0] if isinstance(loss, list) else loss


def _loss_weights(weights):
    """None, a float, or a list or dict of floats."""
    if weights is None:
        return None
    if isinstance(weights, dict):
        return {_output_key(k, "loss_weights"): _weight(v) for k, v in weights.items()}
    if isinstance(weights, (list, tuple)):
        return [_weight(value) for value in weights]
    return _weight(weights)


def _weight(value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ):
        expected = "finite numbers: one per output (a list or a dict by output name)"
        raise argument_error("loss_weights", "compile", expected, value)
    return float(value)


def _metric_ids(metrics_list, loss, argument="metrics"):
    """The metrics as given: a list (flat, or with one entry per output) or a dict;
    `argument` names compile's argument in errors (`metrics` or `weighted_metrics`)."""
    if metrics_list is None:
        return []
    if _is_metric(metrics_list):
        metrics_list = [metrics_list]
    if isinstance(metrics_list, dict):
        ids = {_output_key(k, argument): per_output.as_list(v) for k, v in metrics_list.items()}
        entries = [identifier for group in ids.values() for identifier in group]
    elif isinstance(metrics_list, (list, tuple)):
        ids = [list(e) if isinstance(e, (list, tuple)) else e for e in metrics_list]
        entries = [i for e in ids for i in (e if isinstance(e, list) else [e]) if i is not None]
    else:
        expected = "a list (or a dict by output name)"
        raise argument_error(argument, "compile", expected, metrics_list, error=InvalidTypeError)
    for identifier in entries:
        if not _is_metric(identifier):
            expected = "a list of metric names, Metric objects or functions"
            raise argument_error(argument, "compile", expected, identifier, error=InvalidTypeError)
        if isinstance(identifier, str):
            metrics.get(identifier, loss, 2)
    return ids


def _is_metric(identifier):
    return isinstance(identifier, (str, metrics.Metric)) or callable(identifier)


def _output_key(key, argument):
    if not isinstance(key, str):
        expected = "a dict whose keys are output names (strings)"
        raise argument_error(argument, "compile", expected, key, error=InvalidTypeError)
    return key


def _metric_name(identifier):
    """What a config writes for a metric: its name, or `{"class_name", "config"}` for a
    metric object of a registered class (Keras' form), e.g. `AUC(num_thresholds=50)`."""
    if isinstance(identifier, str):
        return identifier
    registered = registry.entries("metric")
    if isinstance(identifier, metrics.Metric) and registered.get(type(identifier).__name__) is type(
        identifier
    ):
        return {"class_name": type(identifier).__name__, "config": identifier.get_config()}
    if isinstance(identifier, type) and registered.get(identifier.__name__) is identifier:
        return {"class_name": identifier.__name__, "config": identifier().get_config()}
    names = [name for name, known in registered.items() if known is identifier]
    if names:  # a registered metric function, given itself
        return names[0]
    raise InvalidArgumentError(
        f"Cannot save the custom metric {_label(identifier)!r}: a file "
        "names only netfleet's metrics (by name, or a metric object of netfleet's classes). "
        "Compile with those, or keep the weights alone with save_weights()."
    )


def _label(identifier):
    """A metric's name for messages: a Metric's `name`, a function's `__name__`."""
    return getattr(identifier, "name", getattr(identifier, "__name__", repr(identifier)))


def _metric_key(identifier):
    """What identifies a metric among fleets that may train together: its config where it
    has one (two `AUC()` objects are the same metric), the object itself otherwise."""
    try:
        return _metric_name(identifier)
    except InvalidArgumentError:
        return identifier


def _map(structure, fn):
    """`fn` applied to every leaf (but None) of a value, a list (of lists) or a dict."""
    if structure is None:
        return None
    if isinstance(structure, dict):
        return {key: _map(value, fn) for key, value in structure.items()}
    if isinstance(structure, list):
        return [_map(value, fn) for value in structure]
    return fn(structure)
