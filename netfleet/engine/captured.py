"""Captured training steps: on a GPU, a fused step whose shapes never change is recorded once
as a CUDA graph and replayed, so a step costs one launch instead of one per operation.

A step qualifies when the batches come from in-memory arrays, every member trains in it (no
padding mask, no stopped member inside the step) and its batch has the size of the first
one (the smaller last batch of an epoch runs eagerly), and `compile(jit_compile=...)` is not
False. The first steps run eagerly on a side stream (CUDA's warm-up), then the next one is
captured there: the gather of the batch from the device-resident arrays (its indices copied
into a static buffer before each replay), the forward and backward passes and the optimizer
update. Losses and metrics accumulate outside the graph, from the step's outputs, as the
eager step accumulates them. A replay runs the same kernels on the same inputs as the eager
step, so it gives the same numbers. A step that draws random numbers (dropout) or that
cannot be captured (a custom learning-rate schedule that reads values back to the host)
stays eager, and a graph is captured again when the optimizer's tensors are replaced (a
hyperparameter set between epochs) or the members being trained change.
"""

import torch

from netfleet.engine.batching import Batch

WARMUP_STEPS = 2  # eager steps on the side stream before the capture


def wanted(jit_compile, device, fused, arrays):
    """Whether a fit should try to capture its steps: `jit_compile` is not False, the device
    is a GPU, the step is the fused one and the batches index in-memory arrays."""
    return jit_compile is not False and device.type == "cuda" and fused and arrays


class CapturedStep:
    """The training step of one fit, replayed from a CUDA graph once captured.

    Args:
        recheck_every_step: Whether callbacks run between steps (they may replace the
            optimizer's tensors at any step); otherwise the graph's inputs are checked once
            per epoch.
    """

    def __init__(self, recheck_every_step=False):
        self.recheck_every_step = recheck_every_step
        self.stream = torch.cuda.Stream()
        self.failed = False  # the step draws random numbers or cannot be captured
        self.idx = None  # the static batch indices the graph reads
        self.key = None
        self.graph = None
        self.recorded = None
        self.loss = None
        self.warm = 0
        self._accumulator = None

    def takes(self, batch, trained):
        """Whether this step can run here: every member trains, none is padded."""
        return not self.failed and trained is None and batch.mask is None

    def __call__(self, work, batch, accumulator, run, generators):
        """Train one step of `work` (the working set: its `store` and `optimizer`).

        Args:
            batch: The step's `Batch` (its indices on the device).
            accumulator: The epoch's accumulator.
            run: `run(batch, accumulator)`: the forward and backward passes, returning each
                member's loss or None.
            generators: The dropout generators of the step's forward context.

        Returns:
            What `run` returns (for the replayed step, the graph's output).
        """
        if accumulator is not self._accumulator or self.recheck_every_step:
            self._accumulator = accumulator
            key = _key(work)
            if key != self.key:
                self._forget(key)
        if self.idx is None:  # the first batch fixes the shape
            self.idx = torch.empty_like(batch.idx)
        elif batch.idx.shape != self.idx.shape:  # the epoch's smaller last batch
            loss = run(batch, accumulator)
            work.optimizer.apply(work.store.data, work.store.grad, None)
            return loss
        self.idx.copy_(batch.idx)
        if self.graph is not None:
            self.graph.replay()
            self.recorded.add_to(accumulator)
            return self.loss
        if self.warm < WARMUP_STEPS:
            return self._warm_up(work, accumulator, run, generators)
        return self._capture(work, accumulator, run)

    def _forget(self, key):
        """Drop the graph: what it was captured for changed."""
        self.key, self.graph, self.recorded, self.loss, self.warm = key, None, None, None, 0
        self.idx = None

    def _train(self, work, accumulator, run):
        loss = run(Batch(self.idx), accumulator)
        work.optimizer.apply(work.store.data, work.store.grad, None)
        return loss

    def _warm_up(self, work, accumulator, run, generators):
        """An eager step on the side stream; a step that draws random numbers stays eager."""
        before = [generator.get_state() for generator in generators]
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            loss = self._train(work, accumulator, run)
        torch.cuda.current_stream().wait_stream(self.stream)
        drew = any(
            not torch.equal(state, generator.get_state())
            for state, generator in zip(before, generators)
        )
        self.failed = drew
        self.warm += 1
        return loss

    def _capture(self, work, accumulator, run):
        """Capture the step, then replay it for this batch; eager when it cannot be captured."""
        recorded = _Recorded(accumulator)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, stream=self.stream):
                loss = self._train(work, recorded, run)
        except RuntimeError:  # an operation that is not capturable (a host read-back)
            self.failed = True
            torch.cuda.synchronize()
            return self._train(work, accumulator, run)
        self.graph, self.recorded, self.loss = graph, recorded, loss
        graph.replay()
        recorded.add_to(accumulator)
        return loss


class _Recorded:
    """Stands in for an accumulator while a step is captured: keeps what the step adds (the
    graph's output tensors), to add to the real accumulator after each replay."""

    def __init__(self, accumulator):
        self.calls = []
        parts = getattr(accumulator, "parts", None)
        self.parts = None if parts is None else [_Recorded(part) for part in parts]

    def add(self, *args, **kwargs):
        self.calls.append((args, kwargs))

    def add_to(self, accumulator):
        for args, kwargs in self.calls:
            accumulator.add(*args, **kwargs)
        for recorded, part in zip(self.parts or (), getattr(accumulator, "parts", ())):
            recorded.add_to(part)


def _key(work):
    """What a graph of `work`'s step reads: its buffers and its optimizer's tensors."""
    return (id(work), id(work.store.data), id(work.optimizer), _tensor_ids(work.optimizer))


def _tensor_ids(value, depth=0):
    """The ids of the tensors an optimizer holds (in its attributes, dicts, lists and the
    netfleet objects among them): they change when a hyperparameter is set."""
    if torch.is_tensor(value):
        return (id(value),)
    if depth > 4:
        return ()
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    elif type(value).__module__.startswith("netfleet.") and hasattr(value, "__dict__"):
        items = vars(value).values()
    else:
        return ()
    return tuple(ident for item in items for ident in _tensor_ids(item, depth + 1))
