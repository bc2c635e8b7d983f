"""Compaction: members that stopped training leave the batched computation.

Members stop (EarlyStopping, `model.stop_members`, TerminateOnNaN, the fleet runner, successive
halving) and are frozen: they get no more updates. Masked, they would still be computed at every
step. Instead, each epoch that starts with stopped members trains a working set of the live
ones: their rows of the flat weights (`ParameterStore.select`), of the layers' other weights
(BatchNormalization's moving statistics, frozen layers) and of the optimizer's state
(`Optimizer.select_members`) are copied into compact tensors that the layers hold for the
epoch, and the batch plans, dropout generators and fused step are restricted to them. The
generators are the same objects and the batches the same rows, so each live member computes
exactly what it computes masked; a step costs what the live members cost. The streams of a
member out of the computation draw nothing while it is out. An optimizer builds its slots for
the members it steps, so a slot that a member's own settings never read (SGD's velocity of a
member without momentum beside members with it) is not kept up to date while the members
that read it are out.

Each member keeps the parity of its place. The CPU BLAS's batched matrix product (MKL)
computes a batch two matrices at a time, and a matrix's last bits depend on whether it is
first or second in its pair (the last matrix of an odd batch is alone, and a batch of one
takes another path). So the working set alternates live members of even and odd index, a
stopped member (masked, a passenger) filling the place of a missing partner, and the last
member of an odd fleet stays last. Then every member's numbers are those of masking, bit for
bit.

Callbacks always see the whole model: before a callback hook the live rows are written back
into the full tensors, which the layers then hold, and after the hooks the compact ones are
read back (a hook may change weights, stop members or set hyperparameters). At the end of the
epoch, and of `fit`, the model holds its full weights and state again.
"""

import copy

import torch

from netfleet.engine.sources import ArraySource
from netfleet.ops.context import ForwardContext

ENABLED = True
"""Debugging switch: with False, stopped members stay in the computation, masked. Each member
gets the same numbers either way; only the cost differs (`tests/engine/test_compaction.py`)."""


class WorkingSet:
    """What an epoch's steps run on: here every member of the fleet, holding its own tensors.

    Args:
        model: The model being trained.
        store: Its `ParameterStore`.
        optimizer: Its optimizer, built on `store.data`.
        source: The training batches' source.
        validation: The validation source, or None.
        make_step: `make_step(store)` gives the fused step on `store` (or None: autograd);
            None when the model trains through autograd anyway.

    Attributes:
        members: How many members the steps compute.
        context: The training `ForwardContext` (dropout generators, trained members).
        step: The fused step on `store`, or None.
    """

    def __init__(self, model, store, optimizer, source, validation, make_step):
        self.model = model
        self.members = store.members
        self.store, self.optimizer = store, optimizer
        self.source, self.validation = source, validation
        self.make_step = make_step
        self.step = None if make_step is None else make_step(store)
        self.context = ForwardContext(True, *model.dropout_generators(shared=_shared(source)))

    def active_mask(self):
        """The members `(members,)` still training, or None for all."""
        return self.model.active_mask()

    def expand(self, values):
        """`{name: (members,) tensor}` as values for every member of the fleet."""
        return values

    def expose(self):
        """Let callbacks see the whole model (it always does here)."""

    def resume(self):
        """Step the working set again after `expose`."""

    def release(self):
        """End the epoch: the model holds its full weights and state."""


class LiveMembers(WorkingSet):
    """The members `rows` (an index tensor, in their order in the working set) of the fleet
    that `everyone` trains, packed apart (those stopped masked); the layers hold their
    compact weights from construction to `release`."""

    def __init__(self, everyone, rows):
        model = everyone.model
        self.model, self.everyone, self.rows = model, everyone, rows
        self.members = len(rows)
        packed = {(id(layer), name) for layer, name in everyone.store.slots}
        self.others = [  # (layer, name, full tensor, compact tensor)
            (layer, name, weight, weight.detach().index_select(0, rows))
            for layer in model.layers
            for name in layer.weight_names
            if (id(layer), name) not in packed
            and (weight := getattr(layer, name)).shape[0] == everyone.members
        ]
        self.store = everyone.store.select(rows)
        self._bind_others(compact=True)
        self._select_optimizer()
        members = rows.tolist()
        self.source = _select(everyone.source, members)
        self.validation = _select(everyone.validation, members)
        self.make_step = everyone.make_step
        self.step = None if self.make_step is None else self.make_step(self.store)
        generators = model.dropout_generators(members, shared=_shared(everyone.source))
        self.context = ForwardContext(True, *generators)
        self._exposed = False
        self._select_active()

    def _select_active(self):
        mask = self.model.active_mask()
        live = None if mask is None else mask.index_select(0, self.rows.to(mask.device))
        self._active = None if live is None or bool(live.all()) else live

    def _select_optimizer(self):
        full, store = self.everyone.optimizer, self.store
        self.optimizer = full.select_members(self.rows, store.data, store.segments)
        self._optimizer_config = full.get_config()

    def _bind_others(self, compact):
        for layer, name, whole, part in self.others:
            setattr(layer, name, part if compact else whole)

    def active_mask(self):
        return self._active

    def expand(self, values):
        """Each value `(live members,)` in its members' places, NaN for the others."""
        expanded = {}
        for key, value in values.items():
            whole = value.new_full((self.everyone.members, *value.shape[1:]), float("nan"))
            expanded[key] = whole.index_copy_(0, self.rows.to(value.device), value)
        return expanded

    @torch.no_grad()
    def expose(self):
        """Write the live rows back into the full tensors, which the layers then hold."""
        if self._exposed:
            return
        everyone, rows = self.everyone, self.rows
        everyone.store.data.index_copy_(0, rows, self.store.data)
        for _, _, whole, part in self.others:
            whole.index_copy_(0, rows, part)
        everyone.optimizer.scatter_members(self.optimizer, rows)
        everyone.store.bind()
        self._bind_others(compact=False)
        self._exposed = True

    @torch.no_grad()
    def resume(self):
        """Read the live rows back from the full tensors (callbacks may have changed them),
        the members' state and the hyperparameters too, and hold the compact tensors again."""
        if not self._exposed:
            return
        everyone, rows = self.everyone, self.rows
        self.store.data.copy_(everyone.store.data.index_select(0, rows))
        for _, _, whole, part in self.others:
            part.copy_(whole.index_select(0, rows))
        if everyone.optimizer.get_config() != self._optimizer_config:
            self._select_optimizer()  # a callback set hyperparameters
        else:
            everyone.optimizer.gather_members(self.optimizer, rows)
        self.store.bind()
        self._bind_others(compact=True)
        self._select_active()
        self._exposed = False

    def release(self):
        self.expose()


def for_epoch(everyone):
    """What the next epoch trains: the live members (with their passengers) alone, when that
    leaves members out (and `ENABLED`), else `everyone`."""
    mask = everyone.model.active_mask()
    if not ENABLED or mask is None or not bool(mask.any()):
        return everyone
    rows = places(mask.nonzero().flatten().tolist(), everyone.members)
    if len(rows) == everyone.members:
        return everyone
    return LiveMembers(everyone, torch.tensor(rows, device=everyone.store.data.device))


def places(live, members):
    """The members a working set of the `live` ones (of `members`) computes, in order: live
    members of even and odd index alternate from an even place, each at a place of its own
    parity; a stopped member fills the place of a missing partner; the last member of an odd
    fleet stays last (after two stopped members if it is alone).

    Example:
        >>> places([7, 8, 9, 10], 16)
        [8, 7, 10, 9]
        >>> places([0, 2, 5], 6)
        [0, 5, 2, 1]
        >>> places([4], 5)
        [0, 1, 4]
    """
    last = members - 1 if members % 2 and members - 1 in live else None
    evens = [m for m in live if m % 2 == 0 and m != last]
    odds = [m for m in live if m % 2]
    live_set = set(live)
    passengers = iter(m for m in range(members) if m not in live_set)
    order = []
    for index in range(max(len(evens), len(odds))):
        order.append(evens[index] if index < len(evens) else next(passengers))
        order.append(odds[index] if index < len(odds) else next(passengers))
    if last is not None:
        order += [next(passengers), next(passengers), last] if not order else [last]
    return order


def _select(source, members):
    """`source` for `members` alone: an array source's plan restricted to them; a stream
    gives every member the same batches, so it serves as it is."""
    if not isinstance(source, ArraySource):
        return source
    part = copy.copy(source)
    part.plan = source.plan.select(members)
    return part


def _shared(source):
    """Whether members with one seed may share dropout masks: only when every member's step
    has the same rows (a padded plan draws each member's masks for its own rows)."""
    plan = getattr(source, "plan", None)
    return not getattr(plan, "padded", False)
