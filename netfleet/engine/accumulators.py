"""Running losses and metrics over an epoch, on the device, one value per member: read back
to the host once per epoch (or at the progress bar's refresh rate), never per step.

As in Keras 3, the loss and the `weighted_metrics` take the sample weights (class weights
included) and the plain `metrics` do not. Padding is no sample weight: rows that pad a member's
batch (`Batch.mask`) count in nothing, so the plain metrics take the padding mask alone.
"""

import contextlib
import copy

import torch


class Accumulator:
    """The running loss and metrics of a plain dataset (one input, one output), on `device`
    (None: the CPU)."""

    def __init__(self, dataset, members, device=None):
        self.loss_fn = dataset.loss
        self.metrics = [copy.deepcopy(m) for m in dataset.metrics]
        self.weighted_metrics = [copy.deepcopy(m) for m in dataset.weighted_metrics]
        _reset(self.metrics + self.weighted_metrics, members, device)
        plain_names, weighted_names = log_names(dataset.heads)
        self.names = plain_names[0] + weighted_names[0]
        self.loss_total = torch.zeros(members, device=device)
        self.count = 0.0  # a host number while every row is real: no device op per batch

    def add(self, per_example_loss, y_true, y_pred, weights, mask, count, activation=None):
        """Add a batch: `weights` are the per-example weights (sample weights times `mask`)
        or None, `mask` the padding mask or None; `activation` is set when `y_pred` holds
        logits."""
        with torch.no_grad():
            weighted = per_example_loss if weights is None else per_example_loss * weights
            self.loss_total += weighted.sum(1)
            self.count = self.count + count
            _update(self.metrics, y_true, y_pred, mask, activation)
            _update(self.weighted_metrics, y_true, y_pred, weights, activation)

    def running(self):
        values = [m.result() for m in self.metrics + self.weighted_metrics]
        count = torch.as_tensor(self.count, dtype=torch.float32).clamp_min(1e-12)
        return {"loss": self.loss_total / count, **dict(zip(self.names, values))}


class OutputsAccumulator:
    """The running total loss, each output's loss and each output's metrics.

    Logs carry Keras' names: `loss` (the sum of each output's mean loss times its loss
    weight), then `<output>_loss` for each output of a model with several, then each
    output's metrics as `<output>_<metric>` (plain metric names with one output), then each
    output's weighted metrics (see `log_names`).
    """

    def __init__(self, dataset, members, device=None):
        self.heads = dataset.heads
        self.metrics = [[copy.deepcopy(m) for m in head.metrics] for head in self.heads]
        self.weighted_metrics = [
            [copy.deepcopy(m) for m in head.weighted_metrics] for head in self.heads
        ]
        every = [m for groups in (self.metrics, self.weighted_metrics) for g in groups for m in g]
        _reset(every, members, device)
        self.names = [name for groups in log_names(self.heads) for g in groups for name in g]
        self.loss_totals = [torch.zeros(members, device=device) for _ in self.heads]
        self.count = 0.0

    def add(self, index, per_example_loss, y_true, y_pred, weights, mask, activation=None):
        """Add output `index`'s part of a batch: `weights` are its per-example weights
        (sample weights times `mask`) or None, `mask` the padding mask or None; `activation`
        is set when `y_pred` holds logits."""
        with torch.no_grad():
            weighted = per_example_loss if weights is None else per_example_loss * weights
            self.loss_totals[index] += weighted.sum(1)
            _update(self.metrics[index], y_true, y_pred, mask, activation)
            _update(self.weighted_metrics[index], y_true, y_pred, weights, activation)

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
        every = [m for groups in (self.metrics, self.weighted_metrics) for g in groups for m in g]
        logs.update(zip(self.names, (metric.result() for metric in every)))
        return logs


def log_names(heads):
    """The log names of each head's plain metrics and of its weighted metrics (two lists
    with one list per head), as Keras 3's `CompileMetrics.result` names them: plain metrics
    first, `<output>_<name>` (`<name>` with one output), `_1`, `_2`... after a repeated name;
    then a weighted metric keeps its name unless it is taken, else `<output>_weighted_<name>`
    (numbered likewise when that is taken too)."""
    seen = {}  # a name given -> how many metrics asked for it

    def plain_name(name):
        index = seen.get(name, 0)
        seen[name] = index + 1
        return name if index == 0 else f"{name}_{index}"

    def weighted_name(head, metric):
        name = head.prefix + metric.name
        if name not in seen:
            seen[name] = 1
            return name
        return plain_name(f"{head.prefix}weighted_{metric.name}")

    plain = [[plain_name(head.prefix + m.name) for m in head.metrics] for head in heads]
    weighted = [[weighted_name(head, m) for m in head.weighted_metrics] for head in heads]
    return plain, weighted


def _update(metrics, y_true, y_pred, weights, activation):
    """Add a batch to `metrics` with per-example `weights` (or None); `activation` is set
    when `y_pred` holds logits."""
    for metric in metrics:
        if activation is None:
            metric.update(y_true, y_pred, weights)
        else:
            metric.update_from_logits(y_true, y_pred, activation, weights)


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
