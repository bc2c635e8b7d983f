"""`TensorBoard`: event files with Keras' layout and tags, one run folder per member of a
fleet, written with `torch.utils.tensorboard` (imported only when a run starts)."""

import os

import numpy as np

from netfleet import registry
from netfleet.callbacks import arguments
from netfleet.callbacks.base import Callback
from netfleet.errors import argument_error


@registry.register("callback")
class TensorBoard(Callback):
    """Write the epoch logs (and optionally weight histograms) for TensorBoard.

    Training values go to `log_dir/train` as `epoch_<name>` (with `epoch_learning_rate`),
    validation values to `log_dir/validation` without their `val_` prefix, as Keras does;
    the step is the 0-based epoch. A fleet gets one run folder per member,
    `log_dir/<label>/train`, labelled by its swept settings (`learning_rate=0.01`) or
    `member_<i>`. Members that stopped (NaN values) write nothing.

    Args:
        log_dir: Folder of the runs. Defaults to `"logs"`.
        histogram_freq: Write each weight's histogram every that many epochs (0: never), as
            `<layer>/<weight>/histogram`. Defaults to `0`.
        write_graph: Write the model's summary as text (tag `model_summary`). Defaults to
            `False`.
        update_freq: `"epoch"`, or `"batch"` / an integer n to also write `batch_loss` every
            n batches (the step counts batches over the whole run). Defaults to `"epoch"`.

    Example:
        >>> TensorBoard(log_dir="/tmp/logs").log_dir
        '/tmp/logs'
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=False, update_freq="epoch"):
        super().__init__()
        if (
            isinstance(histogram_freq, bool)
            or not isinstance(histogram_freq, int)
            or histogram_freq < 0
        ):
            raise argument_error("histogram_freq", "TensorBoard", "an int >= 0", histogram_freq)
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1
        ):
            raise argument_error(
                "update_freq", "TensorBoard", "'epoch', 'batch' or an int >= 1", update_freq
            )
        self.log_dir = arguments.path(log_dir, "log_dir", "TensorBoard")
        self.histogram_freq = histogram_freq
        self.write_graph = arguments.flag(write_graph, "write_graph", "TensorBoard")
        self.update_freq = update_freq
        self._writers = {}
        if update_freq != "epoch":
            self.on_train_batch_end = self._on_batch_end

    def on_train_begin(self, logs=None):
        self._close()
        self._batches = 0
        params = list(getattr(self.model, "member_params", [{}]))
        self._runs = _run_folders(self.log_dir, params)
        if self.write_graph:
            lines = []
            self.model.summary(print_fn=lines.append)
            self._writer(0, "train").add_text("model_summary", "\n".join(lines), 0)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        learning_rates = self._learning_rates()
        if learning_rates is not None and "loss" in logs:
            stopped = np.isnan(np.atleast_1d(np.asarray(logs["loss"], dtype=float)))
            logs["learning_rate"] = np.where(stopped, np.nan, learning_rates)
        for key, value in logs.items():
            split = "validation" if key.startswith("val_") else "train"
            self._scalars(f"epoch_{key.removeprefix('val_')}", value, epoch, split)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._histograms(epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        self._close()

    def _on_batch_end(self, batch, logs=None):
        self._batches += 1
        active = getattr(self.model, "active_members", None)
        if self._batches % self.update_freq == 0:
            for key, value in (logs or {}).items():
                self._scalars(f"batch_{key}", value, self._batches, "train", active)

    def _scalars(self, tag, value, step, split, members=None):
        """One scalar per member (of `members`, default all), NaN values left out."""
        values = np.atleast_1d(np.asarray(value, dtype=float))
        for member in range(len(values)) if members is None else members:
            if not np.isnan(values[member]):
                self._writer(member, split).add_scalar(tag, float(values[member]), step)

    def _histograms(self, epoch):
        for layer in self.model.layers:
            for name in layer.weight_names:
                tag = f"{layer.name}/{name}/histogram"
                weight = getattr(layer, name).detach().cpu().numpy()
                for member in range(len(self._runs)):
                    self._writer(member, "train").add_histogram(tag, weight[member], epoch)

    def _learning_rates(self):
        optimizer = getattr(getattr(self.model, "compiled", None), "optimizer", None)
        if optimizer is None or "learning_rate" not in optimizer.hyperparameters:
            return None
        return np.asarray(optimizer.current_learning_rates(), dtype=float)

    def _writer(self, member, split):
        key = (member, split)
        if key not in self._writers:
            from torch.utils.tensorboard import SummaryWriter

            self._writers[key] = SummaryWriter(os.path.join(self._runs[member], split))
        return self._writers[key]

    def _close(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _run_folders(log_dir, member_params):
    """`[log_dir]` for one model; one folder per member of a fleet, named by its settings."""
    if len(member_params) == 1:
        return [log_dir]
    labels = [",".join(f"{k}={v}" for k, v in p.items()) for p in member_params]
    if len(set(labels)) < len(labels) or not all(labels):
        labels = [f"member_{i}" + (f",{label}" if label else "") for i, label in enumerate(labels)]
    return [os.path.join(log_dir, label.replace(os.sep, "_")) for label in labels]
