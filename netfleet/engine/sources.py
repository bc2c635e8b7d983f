"""Where a call's batches come from: in-memory arrays cut into batches by a `BatchPlan`, or
batches streamed from a Python generator, a `PyDataset` (Keras' `Sequence`) or a torch
`DataLoader`.

A source has `dataset` (the `Dataset` its batches index, or for a stream the window each
batch is loaded into as it arrives), `steps` (batches per epoch, None while unknown),
`epoch()` (that epoch's batches) and `ran_out()`. Every member of a fleet trains on the same
streamed batch: the stream decides the order.

How an epoch reads a stream (as Keras does, where Keras says):
- a `PyDataset`: batches `0 .. steps - 1` (all of them by default), then `on_epoch_end()`;
- a re-iterable such as a `DataLoader`: one pass; with `steps`, that many batches,
  continuing where the last epoch stopped and starting a new pass whenever one ends;
- a generator (read once): with `steps`, that many batches; without, up to its end (so
  only one epoch). When it runs out, training stops after that epoch with a warning.
Validation and evaluation read a re-iterable from its start every time.
"""

import contextlib
import warnings

import torch
from torch.utils.data import DataLoader

from netfleet.engine import data
from netfleet.engine.batching import Batch
from netfleet.engine.dataset import Dataset, model_inputs
from netfleet.errors import InvalidArgumentError, InvalidTypeError, NotBuiltError
from netfleet.utils.sequence import PyDataset


def is_stream(x):
    """Whether `x` streams batches (a generator or other iterator, a PyDataset / Keras
    Sequence, a DataLoader) rather than holding arrays."""
    return _is_indexed(x) or _is_iterator(x) or isinstance(x, DataLoader)


def is_one_shot(x):
    """Whether stream `x` can be read only once (a generator)."""
    return _is_iterator(x) and not _is_indexed(x)


def _is_indexed(x):
    """A `PyDataset`, or a Keras `Sequence` / `PyDataset` known by its methods."""
    return isinstance(x, PyDataset) or all(
        hasattr(x, name) for name in ("__getitem__", "__len__", "on_epoch_end")
    )


def _is_iterator(x):
    return hasattr(x, "__next__") and hasattr(x, "__iter__")


class WholeBatch(Batch):
    """Every row of a loaded batch, shared by all members."""

    __slots__ = ()

    def __init__(self, rows):
        super().__init__(torch.arange(rows))

    def gather(self, tensor):
        return None if tensor is None else tensor.unsqueeze(0)


class ArraySource:
    """In-memory tensors cut into batches by `plan`, the first `steps` of them each epoch.

    Args:
        dataset: The `Dataset` the batches index.
        plan: The `BatchPlan` that draws each epoch's batches.
        steps: Batches per epoch, at most the plan's. Defaults to all of them.
        argument: The argument that set `steps`, for messages.
        owner: The method called, for messages.
    """

    def __init__(self, dataset, plan, steps=None, argument="steps_per_epoch", owner="fit"):
        if steps is not None and steps > plan.steps:
            raise InvalidArgumentError(
                f"The '{argument}' argument of {owner} asks for {steps} batches per epoch, "
                f"but the arrays make {plan.steps} batches of {plan.batch_size}. Leave it "
                "out, or stream the batches from a generator."
            )
        self.dataset = dataset
        self.plan = plan
        self.steps = plan.steps if steps is None else steps

    @property
    def device(self):
        """Where the batches index the arrays."""
        return self.plan.device

    def ran_out(self):
        return False

    def epoch(self):
        batches = self.plan.epoch()
        return batches if self.steps == self.plan.steps else batches[: self.steps]


class StreamSource:
    """Batches read from a stream, each checked and loaded into `dataset` as it arrives.

    Args:
        model: The model the batches feed.
        reader: The stream's `_Indexed` or `_Iterated` reader.
        dataset: The window `Dataset` (None when only inputs are read, for `predict`).
        argument: The argument the stream was given as, for messages.
        owner: The method called, for messages.
        class_weight: `{class: weight}` applied to every batch.
        device: Where each batch goes once loaded. Defaults to the CPU.
    """

    def __init__(self, model, reader, dataset, argument, owner, class_weight=None, device=None):
        self.model = model
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.reader = reader
        self.dataset = dataset
        self.argument = argument
        self.owner = owner
        self.class_weight = class_weight
        self.epochs = 0

    @property
    def steps(self):
        return self.reader.steps

    def ran_out(self):
        """Whether the stream has no batch left for another epoch (a generator that ended)."""
        return self.reader.ran_out()

    def epoch(self):
        """The epoch's batches, each loaded into the window before it is handed out."""
        self.epochs += 1
        for step, item in enumerate(self.reader.epoch()):
            x, y, sample_weight = self._unpack(item, step)
            with self._naming(step):
                self.dataset.load(x, y, sample_weight, self.class_weight)
            self.dataset.to(self.device)
            yield WholeBatch(len(self.dataset))

    def inputs(self):
        """Each batch's input tensors, for `predict` (targets in a batch are ignored)."""
        self.epochs += 1
        for step, item in enumerate(self.reader.epoch()):
            if isinstance(item, list):
                item = tuple(item)
            x = item[0] if isinstance(item, tuple) and 1 <= len(item) <= 3 else item
            with self._naming(step):
                tensors = [tensor for _, tensor in model_inputs(self.model, x, self.owner)]
            yield [tensor.to(self.device) for tensor in tensors]

    def _unpack(self, item, step):
        """`(x, y, sample_weight)` of a batch `(x, y)` or `(x, y, sample_weight)`."""
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            got = (
                f"a {type(item).__name__} of {len(item)} items"
                if isinstance(item, (tuple, list))
                else f"a {type(item).__name__}"
            )
            raise InvalidTypeError(
                f"The '{self.argument}' argument of {self.owner} must give batches (x, y) or "
                f"(x, y, sample_weight). Its batch {step} (epoch {self.epochs}) is {got}."
            )
        x, y, *weights = item
        return x, y, weights[0] if weights else None

    def _naming(self, step):
        return _naming_batch(f"In batch {step} (epoch {self.epochs}) of '{self.argument}': ")


@contextlib.contextmanager
def _naming_batch(prefix):
    """Prefix netfleet's argument errors raised inside with which batch was bad."""
    try:
        yield
    except (InvalidArgumentError, InvalidTypeError) as error:
        raise type(error)(prefix + str(error)) from None


class _Indexed:
    """Reads a `PyDataset` by index: batches 0 .. steps - 1 each epoch, then its
    `on_epoch_end()`."""

    def __init__(self, batches, steps, argument, owner):
        self.batches = batches
        length = len(batches)
        if length == 0:
            raise InvalidArgumentError(
                f"The '{argument}' argument of {owner} has no batches: its len() is 0."
            )
        if steps is not None and steps > length:
            raise InvalidArgumentError(
                f"The '{argument}' argument of {owner} has {length} batches; {steps} batches "
                "per epoch were asked for. Ask for at most that many, or leave the steps out."
            )
        self.steps = length if steps is None else steps

    def ran_out(self):
        return False

    def epoch(self):
        if hasattr(self.batches, "on_epoch_begin"):
            self.batches.on_epoch_begin()
        for index in range(self.steps):
            yield self.batches[index]
        self.batches.on_epoch_end()


class _Iterated:
    """Reads a re-iterable (a `DataLoader`) or a one-shot iterator (a generator).

    Args:
        stream: The iterable.
        steps: Batches per epoch, or None: one pass (a re-iterable) or up to the end (an
            iterator).
        restart: Whether each epoch reads a re-iterable from its start (validation and
            evaluation read the same batches every time).
    """

    def __init__(self, stream, steps, restart):
        self.stream = stream
        self.reiterable = not _is_iterator(stream)
        self.steps_per_epoch = steps
        known = steps is None and self.reiterable and hasattr(stream, "__len__")
        self.steps = len(stream) if known else steps
        self.restart = restart
        self.iterator = None if self.reiterable else stream
        self.ahead = []  # a generator's batch read ahead by ran_out()
        self.ended = False

    def ran_out(self):
        """Whether a one-shot iterator has ended (it reads the next batch ahead to know)."""
        if not self.reiterable and not self.ended and not self.ahead:
            taken, item = self._take()
            if taken:
                self.ahead.append(item)
        return self.ended

    def _take(self):
        """`(True, batch)`, or `(False, None)` when the current pass or iterator ends."""
        if self.ahead:
            return True, self.ahead.pop()
        try:
            return True, next(self.iterator)
        except StopIteration:
            self.ended = not self.reiterable
            return False, None

    def epoch(self):
        fresh = self.reiterable and (
            self.restart or self.steps_per_epoch is None or self.iterator is None
        )
        if fresh:
            self.iterator = iter(self.stream)
        read = 0
        while self.steps_per_epoch is None or read < self.steps_per_epoch:
            taken, item = self._take()
            if not taken:
                if fresh or not self.reiterable or self.steps_per_epoch is None:
                    return  # the pass ended (an empty new pass would loop forever)
                self.iterator, fresh = iter(self.stream), True
                continue
            fresh = False
            read += 1
            yield item


def stream(
    model, x, owner, steps=None, argument="x", restart=False, class_weight=None, device=None
):
    """The `StreamSource` of stream `x` (its window dataset is None for `predict`), whose
    batches go to `device` (the CPU by default)."""
    if _is_indexed(x):
        reader = _Indexed(x, steps, argument, owner)
    else:
        reader = _Iterated(x, steps, restart)
    dataset = None if owner == "predict" else Dataset.window(model, owner)
    return StreamSource(model, reader, dataset, argument, owner, class_weight, device)


def warn_ran_out(argument, owner, epochs_done):
    """Keras' warning when a generator ends before the epochs asked for."""
    warnings.warn(
        f"The '{argument}' argument of {owner} ran out of batches after {epochs_done} "
        "epochs; training stopped there. A generator is read once: make it give at least "
        "steps_per_epoch * epochs batches (or loop forever and set steps_per_epoch).",
        stacklevel=4,
    )


def example_shape(x, owner):
    """The shape of one example of `x` (an array, or a stream's first batch), for a model
    that builds itself from its data.

    Raises:
        NotBuiltError: `x` is a generator, whose first batch reading would lose.
    """
    if is_one_shot(x):
        raise NotBuiltError(
            f"{owner} on a generator needs a model that knows its input shape (reading the "
            "generator's first batch to learn it would lose that batch): give the first layer "
            "an input_shape (e.g. Dense(32, input_shape=(784,))) or call build(input_shape)."
        )
    if is_stream(x):
        x = x[0] if _is_indexed(x) else next(iter(x))
        if isinstance(x, (tuple, list)):
            x = x[0]
    return data.to_array(x, "x", owner).shape[1:]
