"""What `compile` fixes: the optimizer, the loss and the metrics, checked at once."""

import copy

from netfleet import activations, losses, metrics, optimizers
from netfleet.errors import InvalidTypeError, unknown_name_error


class Compiled:
    """The training configuration of a model."""

    def __init__(self, optimizer="rmsprop", loss=None, metrics_list=None):
        if loss is None:
            raise InvalidTypeError(
                "compile() needs a loss, e.g. loss='categorical_crossentropy'. Got None."
            )
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        if metrics_list is None:
            metrics_list = []
        if isinstance(metrics_list, (str, metrics.Metric)) or callable(metrics_list):
            metrics_list = [metrics_list]
        if not isinstance(metrics_list, (list, tuple)):
            raise InvalidTypeError(
                f"The 'metrics' argument of compile must be a list. Got {metrics_list!r}."
            )
        for identifier in metrics_list:
            if isinstance(identifier, str):
                metrics.get(identifier, self.loss, 2)
        self.metric_ids = list(metrics_list)

    def make_metrics(self, output_units):
        """Fresh metric objects (one set per use: training and validation keep apart)."""
        made = []
        for identifier in self.metric_ids:
            metric = metrics.get(identifier, self.loss, output_units)
            made.append(copy.deepcopy(metric) if metric is identifier else metric)
        return made

    def metric_names(self, output_units):
        return [m.name for m in self.make_metrics(output_units)]

    def logits_activation(self, final_activation):
        """The activation to apply to logits, when the loss can be computed on them."""
        if self.loss.logits_fn is None or self.loss.logits_activation is None:
            return None
        expected = activations.get(self.loss.logits_activation)
        return expected if final_activation is expected else None

    def get_config(self):
        ids = []
        for identifier in self.metric_ids:
            if not isinstance(identifier, str):
                raise unknown_name_error("metric to save", identifier, ["named metrics"])
            ids.append(identifier)
        return {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": self.loss.name,
            "metrics": ids,
        }
