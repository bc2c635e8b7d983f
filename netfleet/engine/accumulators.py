"""Running losses and metrics over an epoch, on the device, one value per member: read back
to the host once per epoch (or at the progress bar's refresh rate), never per step."""

import contextlib
import copy

import torch


class Accumulator:
    """The running loss and metrics of a plain dataset (one input, one output), on `device`
    (None: the CPU)."""

    def __init__(self, dataset, members, device=None):
        self.loss_fn = dataset.loss
        self.metrics = [copy.deepcopy(m) for m in dataset.metrics]
        _reset(self.metrics, members, device)
        self.loss_total = torch.zeros(members, device=device)
        self.count = 0.0  # a host number while every row is real: no device op per batch

    def add(self, per_example_loss, y_true, y_pred, weights, count, activation=None):
        """Add a batch; `activation` is set when `y_pred` holds logits."""
        with torch.no_grad():
            weighted = per_example_loss if weights is None else per_example_loss * weights
            self.loss_total += weighted.sum(1)
            self.count = self.count + count
            for metric in self.metrics:
                if activation is None:
                    metric.update(y_true, y_pred, weights)
                else:
                    metric.update_from_logits(y_true, y_pred, activation, weights)

    def running(self):
        results = {m.name: m.result() for m in self.metrics}
        count = torch.as_tensor(self.count, dtype=torch.float32).clamp_min(1e-12)
        return {"loss": self.loss_total / count, **results}


class OutputsAccumulator:
    """The running total loss, each output's loss and each output's metrics.

    Logs carry Keras' names: `loss` (the sum of each output's mean loss times its loss
    weight), then `<output>_loss` for each output of a model with several, then each
    output's metrics as `<output>_<metric>` (plain metric names with one output).
    """

    def __init__(self, dataset, members, device=None):
        self.heads = dataset.heads
        self.metrics = [[copy.deepcopy(m) for m in head.metrics] for head in self.heads]
        _reset([m for group in self.metrics for m in group], members, device)
        self.loss_totals = [torch.zeros(members, device=device) for _ in self.heads]
        self.count = 0.0

    def add(self, index, per_example_loss, y_true, y_pred, weights, activation=None):
        """Add output `index`'s part of a batch; `activation` is set when `y_pred` holds
        logits."""
        with torch.no_grad():
            weighted = per_example_loss if weights is None else per_example_loss * weights
            self.loss_totals[index] += weighted.sum(1)
            for metric in self.metrics[index]:
                if activation is None:
                    metric.update(y_true, y_pred, weights)
                else:
                    metric.update_from_logits(y_true, y_pred, activation, weights)

    def add_count(self, count):
        """Count a batch's real rows (a float, or one per member)."""
        self.count = self.count + count

    def running(self):
        count = torch.as_tensor(self.count, dtype=torch.float32).clamp_min(1e-12)
        output_losses = [total / count for total in self.loss_totals]
        total = output_losses[0] * self.heads[0].loss_weight
        for head, loss in zip(self.heads[1:], output_losses[1:]):
            total = total + loss * head.loss_weight
        logs = {"loss": total}
        if len(self.heads) > 1:
            logs.update({f"{h.name}_loss": loss for h, loss in zip(self.heads, output_losses)})
        for head, group in zip(self.heads, self.metrics):
            logs.update({head.prefix + metric.name: metric.result() for metric in group})
        return logs


def _reset(metrics, members, device):
    """Reset `metrics` for `members` members, their state made on `device` (a metric's
    `reset` makes it on the default device, which this sets for the call)."""
    on_device = device is not None and torch.device(device).type != "cpu"
    with torch.device(device) if on_device else contextlib.nullcontext():
        for metric in metrics:
            metric.reset(members)


def for_dataset(dataset, members):
    """The accumulator that fits `dataset`'s training steps."""
    return Accumulator(dataset, members) if dataset.plain else OutputsAccumulator(dataset, members)
