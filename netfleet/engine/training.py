"""fit / evaluate / predict over the M members of a model, as one batched computation.

The hot loop: gather the batch (`X[idx]`), forward, per-member mean loss, backward of the
sum over members (so each member's gradient is its own), one optimizer step on the flat
buffer. Losses and metrics accumulate on the device and are read once per epoch.
"""

import copy

import numpy as np
import torch

from netfleet import losses, metrics
from netfleet.callbacks.base import Callback, CallbackList
from netfleet.callbacks.history import History
from netfleet.engine import data, fused
from netfleet.engine.batching import BatchPlan
from netfleet.engine.progress import ProgressBar
from netfleet.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    argument_error,
    check_positive_int,
)
from netfleet.ops import seeding
from netfleet.ops.context import ForwardContext, forward_context

DEFAULT_BATCH_SIZE = 32  # fit's, as in Keras


class Dataset:
    """Checked tensors for one call: features, labels, per-example weights, and the loss to
    train them with (one-hot labels become class indices: the same loss, computed faster)."""

    def __init__(self, model, x, y, owner, sample_weight=None, class_weight=None):
        compiled = model.require_compiled(owner)
        self.x = data.features(data.to_array(x, "x", owner), "x", owner, model.example_shape)
        self.y = data.targets(y, "y", owner, compiled.loss, model.output_example_shape)
        data.check_same_length(self.x, self.y, owner)
        self.weights = data.row_weights(sample_weight, class_weight, self.y, len(self.x), owner)
        self.loss = compiled.loss
        self.metrics = compiled.make_metrics(model.output_example_shape[-1])
        if compiled.loss.labels == "one_hot" and _index_friendly(self.metrics):
            indices = data.one_hot_indices(self.y)
            if indices is not None:
                self.y, self.loss = indices, losses.get("sparse_categorical_crossentropy")
                for metric in self.metrics:
                    metric.kind, metric.fn = "sparse", metrics.sparse_categorical_accuracy

    def __len__(self):
        return len(self.x)

    def split(self, fraction):
        """(train, validation) with the *last* `fraction` of rows held out, as Keras does."""
        n = len(self.x)
        cut = int(n * (1 - fraction))
        if cut == 0 or cut == n:
            raise InvalidArgumentError(
                f"The 'validation_split' argument of fit leaves no "
                f"{'training' if cut == 0 else 'validation'} examples with {n} examples. "
                f"Got {fraction}."
            )
        return self._slice(slice(0, cut)), self._slice(slice(cut, n))

    def _slice(self, rows):
        part = object.__new__(Dataset)
        part.__dict__.update(self.__dict__)
        part.x, part.y = self.x[rows], self.y[rows]
        part.weights = None if self.weights is None else self.weights[rows]
        return part


def _index_friendly(metric_objects):
    """Whether every metric reads class indices as well as one-hot labels (accuracies)."""
    return all(
        isinstance(m, metrics.Accuracy) and m.kind in ("categorical", "sparse")
        for m in metric_objects
    )


class Accumulator:
    """Running loss and metrics over an epoch, on the device, one value per member."""

    def __init__(self, dataset, members):
        self.loss_fn = dataset.loss
        self.metrics = [copy.deepcopy(m) for m in dataset.metrics]
        for metric in self.metrics:
            metric.reset(members)
        self.loss_total = torch.zeros(members)
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


def _example_weights(batch, dataset):
    """Per-example weights (M or 1, B) from sample weights and padding, or None."""
    weights = batch.gather(dataset.weights)
    if batch.mask is not None:
        weights = batch.mask if weights is None else weights * batch.mask
    return weights


def _forward_loss(model, batch, dataset, accumulator, logits_activation, training):
    """Each member's mean loss on `batch` (M,), accumulating loss and metrics on the way."""
    xb, yb = batch.gather(dataset.x), batch.gather(dataset.y)
    out = model.forward([xb], training=training, logits=logits_activation is not None)
    loss_fn = accumulator.loss_fn
    per_example = loss_fn(yb, out) if logits_activation is None else loss_fn.logits_fn(yb, out)
    weights = _example_weights(batch, dataset)
    count = batch.count()
    accumulator.add(per_example.detach(), yb, out.detach(), weights, count, logits_activation)
    return fused.member_mean(per_example, weights, count)


def _logs(running, prefix="", active=None):
    logs = {}
    for key, value in running.items():
        value = value.detach().cpu().numpy().astype(float)
        if active is not None:
            value = np.where(active, value, np.nan)
        logs[prefix + key] = float(value[0]) if value.shape[0] == 1 else value
    return logs


def fit(
    model,
    x,
    y,
    batch_size=None,
    epochs=1,
    verbose="auto",
    callbacks=None,
    validation_split=0.0,
    validation_data=None,
    shuffle=True,
    class_weight=None,
    sample_weight=None,
    initial_epoch=0,
    member_rows=None,
    member_validation_rows=None,
    member_batch_sizes=None,
):
    owner = "fit"
    batch_size = (
        DEFAULT_BATCH_SIZE
        if batch_size is None
        else check_positive_int(batch_size, "batch_size", owner)
    )
    epochs = check_positive_int(epochs, "epochs", owner, minimum=0)
    initial_epoch = check_positive_int(initial_epoch, "initial_epoch", owner, minimum=0)
    verbose = _check_verbose(verbose, owner)
    if (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float))
        or not (0 <= validation_split < 1)
    ):
        raise argument_error("validation_split", owner, "a float in [0, 1)", validation_split)
    callbacks = _check_callbacks(callbacks)

    dataset = Dataset(model, x, y, owner, sample_weight, class_weight)
    validation = None
    if validation_data is not None:
        validation = _validation_dataset(model, validation_data)
    elif validation_split > 0 and member_validation_rows is None:
        dataset, validation = dataset.split(validation_split)
    elif member_validation_rows is not None:
        validation = dataset

    store = model.parameter_store()
    members = store.members
    optimizer = model.compiled.optimizer
    if not optimizer.is_built_for(store.data):
        optimizer.build(store.data)
    rows = _member_rows(member_rows, len(dataset), members)
    sizes = _member_batch_sizes(member_batch_sizes, batch_size, members)
    plan = BatchPlan(
        rows, members, sizes, shuffle, model.member_generators(seeding.SHUFFLE), model.member_seeds
    )
    logits_activation = model.compiled.logits_activation(model.final_activation())
    dropout = ForwardContext(True, *model.dropout_generators())

    ones = torch.ones(members)  # d(sum of member losses)/d(member loss): each its own gradient
    history = History()
    callback_list = CallbackList(
        [history, *callbacks], model, {"epochs": epochs, "steps": plan.steps, "verbose": verbose}
    )
    model.stop_training = False
    model.history = history
    callback_list.on_train_begin({})
    fused_step = fused.training_step(
        model, dataset, store, logits_activation, callback_list.wants_batches
    )
    logs = {}
    for epoch in range(initial_epoch, epochs):
        if model.stop_training:
            break
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        callback_list.on_epoch_begin(epoch, {})
        active_members = model.active_mask()
        if active_members is not None:
            active_members = active_members.clone()  # the epoch's logs mask (stop_members edits)
        accumulator = Accumulator(dataset, members)
        bar = ProgressBar(plan.steps, verbose)
        with forward_context(dropout):
            for step, batch in enumerate(plan.epoch()):
                if callback_list.wants_batches:
                    callback_list.on_train_batch_begin(step, {})
                if fused_step is not None:
                    loss = fused_step(batch, accumulator, _example_weights(batch, dataset))
                else:
                    loss = _forward_loss(
                        model, batch, dataset, accumulator, logits_activation, True
                    )
                    store.zero_grad()
                    torch.autograd.backward(loss, ones)
                optimizer.apply(store.data, store.grad, _combine(model.active_mask(), batch.active))
                if callback_list.wants_batches:
                    callback_list.on_train_batch_end(step, _logs({"loss": loss.detach()}))
                    if model.stop_training:
                        break
                if bar.due():
                    bar.update(step + 1, _logs(accumulator.running()))
        active = None if active_members is None else active_members.numpy()
        logs = _logs(accumulator.running(), active=active)
        if validation is not None:
            val_rows = _member_rows(member_validation_rows, len(validation), members)
            logs.update(_logs(_evaluate(model, validation, batch_size, val_rows), "val_", active))
        bar.finish(logs)
        callback_list.on_epoch_end(epoch, logs)
    callback_list.on_train_end(logs)
    return history


def _combine(active_members, step_active):
    if active_members is None:
        return step_active
    return active_members if step_active is None else active_members & step_active


def _member_batch_sizes(sizes, batch_size, members):
    """Each member's batch size: one int for all, or a list of M ints."""
    if sizes is None:
        return batch_size
    if not isinstance(sizes, (list, tuple, np.ndarray)) or len(sizes) != members:
        expected = f"a list of one batch size per member ({members})"
        raise argument_error("member_batch_sizes", "fit", expected, sizes)
    sizes = [check_positive_int(s, "member_batch_sizes", "fit") for s in sizes]
    return sizes[0] if len(set(sizes)) == 1 else sizes


def _member_rows(rows, n, members):
    """Row indices per member (list of M tensors), or all rows shared."""
    if rows is None:
        return torch.arange(n)
    if len(rows) != members:
        raise InvalidArgumentError(
            f"member_rows needs one index array per member ({members}). Got {len(rows)}."
        )
    out = []
    for i, r in enumerate(rows):
        r = torch.as_tensor(np.asarray(r), dtype=torch.long)
        if r.ndim != 1 or len(r) == 0 or int(r.min()) < 0 or int(r.max()) >= n:
            raise InvalidArgumentError(f"member_rows[{i}] must be non-empty indices in [0, {n}).")
        out.append(r)
    return out


def _validation_dataset(model, validation_data):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise InvalidTypeError(
            "The 'validation_data' argument of fit must be a tuple (x_val, y_val) or "
            f"(x_val, y_val, sample_weight). Got {type(validation_data).__name__}."
        )
    x_val, y_val, *weights = validation_data
    return Dataset(model, x_val, y_val, "fit (validation_data)", weights[0] if weights else None)


def _evaluate(model, dataset, batch_size, rows):
    """Mean loss and metrics over `dataset` (per member, optionally on each member's rows)."""
    members = model.num_members
    plan = BatchPlan(rows, members, batch_size, False, None, model.member_seeds)
    accumulator = Accumulator(dataset, members)
    logits_activation = model.compiled.logits_activation(model.final_activation())
    with torch.no_grad(), forward_context(ForwardContext(False)):
        for batch in plan.epoch():
            _forward_loss(model, batch, dataset, accumulator, logits_activation, False)
    return accumulator.running()


def evaluate(
    model,
    x,
    y,
    batch_size=None,
    verbose="auto",
    sample_weight=None,
    return_dict=False,
    callbacks=None,
):
    owner = "evaluate"
    batch_size = 32 if batch_size is None else check_positive_int(batch_size, "batch_size", owner)
    verbose = _check_verbose(verbose, owner)
    dataset = Dataset(model, x, y, owner, sample_weight)
    model.prepare_inference()
    bar = ProgressBar(-(-len(dataset) // batch_size), verbose)
    logs = _logs(_evaluate(model, dataset, batch_size, torch.arange(len(dataset))))
    bar.finish(logs)
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose="auto"):
    """Outputs for `x`: `(n, ...)` for one model, `(M, n, ...)` for a fleet."""
    owner = "predict"
    batch_size = 1024 if batch_size is None else check_positive_int(batch_size, "batch_size", owner)
    _check_verbose(verbose, owner)
    tensor = data.features(data.to_array(x, "x", owner), "x", owner, model.example_shape)
    model.prepare_inference()
    outputs = []
    with torch.no_grad(), forward_context(ForwardContext(False)):
        for start in range(0, len(tensor), batch_size):
            outputs.append(model.forward([tensor[start : start + batch_size].unsqueeze(0)]))
    if isinstance(outputs[0], list):  # a model with several outputs: one array each
        return [_join_batches(list(parts)) for parts in zip(*outputs)]
    return _join_batches(outputs)


def _join_batches(parts):
    result = torch.cat(parts, dim=1).numpy()
    return result[0] if result.shape[0] == 1 else result


def _check_verbose(verbose, owner):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise argument_error("verbose", owner, "0, 1, 2 or 'auto'", verbose)
    return verbose


def _check_callbacks(callbacks):
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise InvalidTypeError(
                f"The 'callbacks' argument of fit must hold Callback instances. Got {callback!r}."
            )
    return callbacks
