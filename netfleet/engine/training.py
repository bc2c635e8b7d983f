"""fit / evaluate / predict over the M members of a model, as one batched computation.

The hot loop: gather the batch (`X[idx]`), forward, per-member mean loss, backward of the
sum over members (so each member's gradient is its own), one optimizer step on the flat
buffer. Losses and metrics accumulate on the device and are read once per epoch.

Batches come from a source (`engine.sources`): in-memory arrays indexed per member, or a
stream (generator, `PyDataset`, `DataLoader`) whose batches every member shares. A model
with one input and one output trained on its loss alone takes the plain step (the layers'
fused step where it applies); other models take the step over all inputs and outputs,
whose total loss is the sum of each output's mean loss times its loss weight.
"""

import functools

import numpy as np
import torch

from netfleet import config
from netfleet.callbacks.base import CallbackList
from netfleet.callbacks.history import History
from netfleet.engine import (
    captured,
    checks,
    compaction,
    compiled,
    data,
    execution,
    fused,
    memory,
    placement,
    precision,
    sources,
)
from netfleet.engine.accumulators import Accumulator, OutputsAccumulator
from netfleet.engine.batching import BatchPlan
from netfleet.engine.chunks import Chunks, batch_rows
from netfleet.engine.dataset import Dataset, model_inputs
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


def _example_weights(batch, dataset):
    """Per-example weights (M or 1, B) from sample weights and padding, or None."""
    weights = batch.gather(dataset.weights)
    if batch.mask is not None:
        weights = batch.mask if weights is None else weights * batch.mask
    return weights


def _forward_loss(model, batch, dataset, accumulator, logits_activation, training):
    """Each member's mean loss on `batch` (M,), accumulating loss and metrics on the way."""
    xb, yb = batch.gather(dataset.x), batch.gather(dataset.y)
    out = precision.forward(model, [xb], training, logits_activation is not None)
    loss_fn = accumulator.loss_fn
    per_example = loss_fn(yb, out) if logits_activation is None else loss_fn.logits_fn(yb, out)
    weights = _example_weights(batch, dataset)
    count = batch.count()
    accumulator.add(
        per_example.detach(), yb, out.detach(), weights, batch.mask, count, logits_activation
    )
    return fused.member_mean(per_example, weights, count)


def _forward_losses(model, batch, dataset, accumulator, logits_activation, training):
    """Each member's total loss on `batch` (M,): the sum over outputs of the output's mean
    loss times its loss weight, accumulating each output's loss and metrics on the way."""
    inputs = [batch.gather(tensor) for tensor in dataset.inputs]
    outputs = precision.forward(model, inputs, training, logits_activation is not None)
    if len(dataset.heads) == 1:
        outputs = [outputs]
    count = batch.count()
    accumulator.add_count(count)
    total = None
    for index, (head, out) in enumerate(zip(dataset.heads, outputs)):
        yb = batch.gather(head.y)
        loss_fn = head.loss if logits_activation is None else head.loss.logits_fn
        per_example = loss_fn(yb, out)
        weights = batch.gather(head.weights)
        if batch.mask is not None:
            weights = batch.mask if weights is None else weights * batch.mask
        accumulator.add(
            index, per_example.detach(), yb, out.detach(), weights, batch.mask, logits_activation
        )
        member_loss = fused.member_mean(per_example, weights, count) * head.loss_weight
        total = member_loss if total is None else total + member_loss
    return total


def _training_step_parts(model, dataset):
    """The step function, a fresh accumulator's class and the logits activation for
    `dataset`: the plain step for plain datasets, the step over all outputs otherwise."""
    logits_activation = None
    if len(dataset.heads) == 1:
        head = dataset.heads[0]
        logits_activation = compiled.logits_activation(head.loss, model.final_activation())
    if dataset.plain:
        return _forward_loss, Accumulator, logits_activation
    return _forward_losses, OutputsAccumulator, logits_activation


def _logs(running, prefix="", active=None):
    """Logs from running values `(M,)`: read from the device in one transfer."""
    logs = {}
    for key, value in zip(running, _on_host(list(running.values()))):
        value = value.numpy().astype(float)
        if active is not None:
            value = np.where(active, value, np.nan)
        logs[prefix + key] = float(value[0]) if value.shape[0] == 1 else value
    return logs


def _on_host(values):
    """Tensors on the host; from a GPU in one transfer when they stack."""
    values = [value.detach() for value in values]
    if not values or values[0].device.type == "cpu":
        return values
    if len({(value.shape, value.dtype) for value in values}) == 1:
        return list(torch.stack(values).cpu())
    return [value.cpu() for value in values]


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
    steps_per_epoch=None,
    validation_steps=None,
    member_rows=None,
    member_validation_rows=None,
    member_batch_sizes=None,
    member_chunk_size=None,
):
    """Train `model`; see `Model.fit`. `member_chunk_size` (internal, for tests) forces
    how many members compute at once, else the memory estimate decides (`engine.memory`)."""
    owner = "fit"
    device = config.get_device()
    if member_chunk_size is not None:
        member_chunk_size = check_positive_int(member_chunk_size, "member_chunk_size", owner)
    epochs = check_positive_int(epochs, "epochs", owner, minimum=0)
    initial_epoch = check_positive_int(initial_epoch, "initial_epoch", owner, minimum=0)
    verbose = checks.check_verbose(verbose, owner)
    if (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float))
        or not (0 <= validation_split < 1)
    ):
        raise argument_error("validation_split", owner, "a float in [0, 1)", validation_split)
    steps_per_epoch = checks.check_steps(steps_per_epoch, "steps_per_epoch", owner)
    validation_steps = checks.check_steps(validation_steps, "validation_steps", owner)
    callbacks = checks.check_callbacks(callbacks)
    members = model.num_members
    epochs_to_run = epochs - initial_epoch

    if sources.is_stream(x):
        checks.check_stream_arguments(
            owner,
            y=y,
            batch_size=batch_size,
            sample_weight=sample_weight,
            validation_split=validation_split or None,
            member_rows=member_rows,
            member_validation_rows=member_validation_rows,
            member_batch_sizes=member_batch_sizes,
        )
        checks.check_read_once(x, steps_per_epoch, "steps_per_epoch", epochs_to_run)
        source = sources.stream(
            model, x, owner, steps_per_epoch, class_weight=class_weight, device=device
        )
        batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
        validation = None
    else:
        batch_size = (
            DEFAULT_BATCH_SIZE
            if batch_size is None
            else check_positive_int(batch_size, "batch_size", owner)
        )
        dataset = Dataset(model, x, y, owner, sample_weight, class_weight).to(device)
        validation = None
        if validation_data is None and member_validation_rows is not None:
            validation = _array_source(
                model, dataset, member_validation_rows, batch_size, validation_steps, device=device
            )
        elif validation_data is None and validation_split > 0:
            dataset, held_out = dataset.split(validation_split)
            validation = _array_source(
                model, held_out, None, batch_size, validation_steps, device=device
            )
        rows = checks.member_rows(member_rows, len(dataset), members)
        sizes = checks.member_batch_sizes(member_batch_sizes, batch_size, members)
        plan = BatchPlan(
            rows,
            members,
            sizes,
            shuffle,
            model.member_generators(seeding.SHUFFLE),
            model.member_seeds,
            device,
        )
        source = sources.ArraySource(dataset, plan, steps_per_epoch)
    if validation_data is not None:
        validation = _validation_source(
            model, validation_data, batch_size, validation_steps, epochs_to_run, device
        )
    if source.steps == 0 or source.ran_out():
        raise InvalidArgumentError("The 'x' argument of fit gave no batches to train on.")

    dataset = source.dataset
    store = model.parameter_store()
    optimizer = model.compiled.optimizer
    widest = source.plan.batch_size if isinstance(source, sources.ArraySource) else batch_size
    chunk_size = member_chunk_size or memory.training_chunk(model, store, optimizer, widest, device)
    placement.place_for_training(model, store, device)
    if not optimizer.is_built_for(store.data):
        optimizer.build(store.data, store.segments)
    step_loss, accumulator_class, logits_activation = _training_step_parts(model, dataset)
    history = History()
    callback_list = CallbackList(
        [*callbacks, history], model, {"epochs": epochs, "steps": source.steps, "verbose": verbose}
    )
    model.stop_training = False
    model.history = history
    callback_list.on_train_begin({})
    make_step = None  # compile(run_eagerly=True), streams and other models: autograd
    arrays = isinstance(source, sources.ArraySource)
    if dataset.plain and arrays and not model.compiled.run_eagerly and not precision.enabled():
        make_step = functools.partial(
            fused.training_step,
            model,
            dataset,
            logits_activation=logits_activation,
            member_losses=callback_list.wants_batches,
        )
    everyone = compaction.WorkingSet(model, store, optimizer, source, validation, make_step)
    capture = None
    if captured.wanted(model.compiled.jit_compile, device, make_step is not None, arrays):
        capture = captured.CapturedStep(callback_list.wants_batches)
    logs = {}
    for epoch in range(initial_epoch, epochs):
        if model.stop_training:
            break
        if epoch > initial_epoch and source.ran_out():
            sources.warn_ran_out("x", owner, epoch - initial_epoch)
            break
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        callback_list.on_epoch_begin(epoch, {})
        mask = model.active_mask()  # the epoch's logs mask: NaN for members stopped before it
        active = None if mask is None else mask.numpy().copy()
        bar = _progress_bar(source.steps, verbose)
        step = -1
        work = compaction.for_epoch(everyone)  # the live members alone, when some stopped
        try:
            steps = _epoch_steps(work, step_loss, logits_activation, device, chunk_size, capture)
            accumulator = steps.accumulator(
                functools.partial(accumulator_class, dataset, device=device)
            )
            with forward_context(steps.context):
                for step, batch in enumerate(work.source.epoch()):
                    if callback_list.wants_batches:
                        work.expose()  # callbacks see the whole model
                        callback_list.on_train_batch_begin(step, {})
                        work.resume()
                    loss = steps.train(batch, accumulator)
                    if callback_list.wants_batches:
                        work.expose()
                        batch_logs = _logs(work.expand({"loss": loss.detach()}), active=active)
                        callback_list.on_train_batch_end(step, batch_logs)
                        if model.stop_training:
                            break
                    if bar.due():
                        bar.update(step + 1, _logs(work.expand(accumulator.running()), "", active))
            work.resume()
            running = work.expand(accumulator.running())
            if validation is not None:
                validated = _evaluate(model, work.validation, work.members, chunk_size)[0]
                validated = work.expand(validated)
        finally:
            work.release()
        logs = _logs(running, active=active)
        if validation is not None:
            logs.update(_logs(validated, "val_", active))
        if bar.steps is None:
            bar.steps = step + 1  # a stream of unknown length: known now
        bar.finish(logs)
        callback_list.on_epoch_end(epoch, logs)
    callback_list.on_train_end(logs)
    return history


def _epoch_steps(work, step_loss, logits_activation, device, chunk_size, capture):
    """How the working set `work` trains this epoch (`execution.EpochSteps`): each step
    runs `step_loss` through autograd, or the fused step where it has one."""
    dataset = work.source.dataset
    return execution.EpochSteps(
        work,
        lambda batch, accumulator: step_loss(
            work.model, batch, dataset, accumulator, logits_activation, True
        ),
        lambda batch: _example_weights(batch, dataset),
        device,
        chunk_size,
        capture,
    )


def _progress_bar(steps, verbose):
    """The epoch's bar; a stream of unknown length shows no live bar, only the final line."""
    bar = ProgressBar(steps, verbose)
    if steps is None:
        bar.live = False
    return bar


def _array_source(
    model,
    dataset,
    rows,
    batch_size,
    steps,
    argument="validation_steps",
    owner="fit",
    device=None,
):
    """Unshuffled batches of `dataset` for evaluation (per member when `rows` are given),
    their indices on `device`."""
    members = model.num_members
    plan = BatchPlan(
        checks.member_rows(rows, len(dataset), members),
        members,
        batch_size,
        False,
        None,
        model.member_seeds,
        device,
    )
    return sources.ArraySource(dataset, plan, steps, argument, owner)


def _validation_source(model, validation_data, batch_size, steps, epochs, device):
    owner = "fit"
    if sources.is_stream(validation_data):
        checks.check_read_once(validation_data, steps, "validation_steps", epochs)
        return sources.stream(
            model, validation_data, owner, steps, "validation_data", restart=True, device=device
        )
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise InvalidTypeError(
            "The 'validation_data' argument of fit must be a tuple (x_val, y_val) or "
            "(x_val, y_val, sample_weight), or a generator, PyDataset or DataLoader. Got "
            f"{type(validation_data).__name__}."
        )
    x_val, y_val, *weights = validation_data
    dataset = Dataset(model, x_val, y_val, "fit (validation_data)", weights[0] if weights else None)
    return _array_source(model, dataset.to(device), None, batch_size, steps, device=device)


def _evaluate(model, source, members=None, chunk_size=None):
    """Mean loss and metrics over an epoch of `source` (per member, on its own rows if it
    has them; NaN when the source gave no batch), and the number of batches read; `members`
    is how many members the layers hold (all of them by default), `chunk_size` how many
    compute at once (None: all)."""
    dataset = source.dataset
    step_loss, accumulator_class, logits_activation = _training_step_parts(model, dataset)
    members = members or model.num_members
    make = functools.partial(accumulator_class, dataset, device=source.device)
    chunks = None
    if chunk_size is not None and chunk_size < members:
        chunks = Chunks.for_inference(model, chunk_size, members)
    accumulator = make(members) if chunks is None else chunks.accumulator(make)

    def forward(batch, index, start, end):
        part = accumulator if chunks is None else accumulator.parts[index]
        piece = batch if chunks is None else batch_rows(batch, start, end)
        step_loss(model, piece, dataset, part, logits_activation, False)

    steps = 0
    with torch.no_grad(), forward_context(ForwardContext(False)):
        for steps, batch in enumerate(source.epoch(), start=1):
            if chunks is None:
                forward(batch, 0, 0, members)
            else:
                chunks.forward(functools.partial(forward, batch))
    running = accumulator.running()
    if steps == 0:
        running = {key: torch.full_like(value, float("nan")) for key, value in running.items()}
    return running, steps


def evaluate(
    model,
    x,
    y,
    batch_size=None,
    verbose="auto",
    sample_weight=None,
    return_dict=False,
    callbacks=None,
    steps=None,
):
    """`[loss, *output losses, *metrics]` (the loss alone when it is the only value), or
    the logs dict with `return_dict`."""
    owner = "evaluate"
    device = config.get_device()
    verbose = checks.check_verbose(verbose, owner)
    steps = checks.check_steps(steps, "steps", owner)
    if sources.is_stream(x):
        checks.check_stream_arguments(
            owner, y=y, batch_size=batch_size, sample_weight=sample_weight
        )
        source = sources.stream(model, x, owner, steps, restart=True, device=device)
    else:
        batch_size = (
            32 if batch_size is None else check_positive_int(batch_size, "batch_size", owner)
        )
        dataset = Dataset(model, x, y, owner, sample_weight).to(device)
        source = _array_source(
            model, dataset, None, batch_size, steps, "steps", owner, device=device
        )
    model.prepare_inference()
    placement.place_for_inference(model, device)
    chunk_size = memory.inference_chunk(model, batch_size or DEFAULT_BATCH_SIZE, device)
    bar = _progress_bar(source.steps, verbose)
    running, steps_read = _evaluate(model, source, chunk_size=chunk_size)
    logs = _logs(running)
    if bar.steps is None:
        bar.steps = steps_read
    bar.finish(logs)
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose="auto", steps=None, training=False):
    """Outputs for `x`: `(n, ...)` for one model, `(M, n, ...)` for a fleet; a list of
    them for a model with several outputs. `training=True` runs the layers in training mode
    (`model(x, training=True)`: dropout on, BatchNormalization on the batch's statistics)."""
    owner = "predict"
    device = config.get_device()
    checks.check_verbose(verbose, owner)
    steps = checks.check_steps(steps, "steps", owner)
    if sources.is_stream(x):
        checks.check_stream_arguments(owner, batch_size=batch_size)
        batches = sources.stream(model, x, owner, steps, restart=True, device=device).inputs()
    else:
        batch_size = (
            1024 if batch_size is None else check_positive_int(batch_size, "batch_size", owner)
        )
        inputs = model_inputs(model, x, owner)
        (first_label, first), *others = inputs
        for label, tensor in others:
            data.check_same_length(first, tensor, owner, first_label, label)
        starts = range(0, len(first), batch_size)
        if steps is not None:
            starts = starts[:steps]
        tensors = [tensor.to(device) for _, tensor in inputs]  # moved once
        batches = ([tensor[s : s + batch_size] for tensor in tensors] for s in starts)
    model.prepare_inference()
    placement.place_for_inference(model, device)
    chunk_size = memory.inference_chunk(model, batch_size or 1024, device)
    chunks = None
    if chunk_size is not None:
        chunks = Chunks.for_inference(model, chunk_size)
    outputs = []
    with torch.no_grad(), forward_context(ForwardContext(training)):
        for batch in batches:
            batch = [tensor.unsqueeze(0) for tensor in batch]
            if chunks is None:
                outputs.append(precision.forward(model, batch, training=training))
            else:
                run = functools.partial(_forward_part, model, batch, training)
                outputs.append(_joined(chunks.forward(run), 0))
    if not outputs:
        raise InvalidArgumentError("The 'x' argument of predict gave no batches.")
    if isinstance(outputs[0], list):  # a model with several outputs: one array each
        return [_join_batches(list(parts)) for parts in zip(*outputs)]
    return _join_batches(outputs)


def _forward_part(model, batch, training, index, start, end):
    """The outputs of the members the layers hold (one slice of `Chunks.forward`)."""
    return precision.forward(model, batch, training=training)


def _joined(parts, dim):
    """Outputs computed in parts, joined along `dim` (each output of a model with several)."""
    if isinstance(parts[0], list):
        return [torch.cat(list(output), dim=dim) for output in zip(*parts)]
    return torch.cat(parts, dim=dim)


def _join_batches(parts):
    result = placement.to_host(torch.cat(parts, dim=1)).numpy()
    return result[0] if result.shape[0] == 1 else result
