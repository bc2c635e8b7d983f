"""Batch indices for an epoch, drawn once up front for every member.

Members whose rows and seed agree draw one shared order (their batches then enter the
first layer as one wide matrix product, when they also share the batch size); members with
their own rows or seeds (CV folds, stacked models) get one order each. Where row counts or
batch sizes differ, each step is padded to its largest batch with a 0/1 mask.
"""

import copy

import torch


class Batch:
    """Row indices of one step: `(B,)` shared by all members, or `(M, B)` one row each.

    `mask` (M, B) marks real rows where members have different row counts; `active` (M,)
    marks members that have any row in this step; `counts` lists each member's real rows
    (host ints, for drawing exactly as many dropout numbers as a separate run). All three
    are None when every row is real.
    """

    __slots__ = ("active", "counts", "idx", "mask")

    def __init__(self, idx, mask=None, active=None, counts=None):
        self.idx, self.mask, self.active, self.counts = idx, mask, active, counts

    @property
    def shared(self):
        return self.idx.ndim == 1

    def gather(self, tensor):
        """The batch of `tensor` (N, ...) as (1, B, ...) when shared, else (M, B, ...)."""
        if tensor is None:
            return None
        if self.shared:
            return tensor.index_select(0, self.idx).unsqueeze(0)
        rows = tensor.index_select(0, self.idx.reshape(-1))
        return rows.view(*self.idx.shape, *tensor.shape[1:])

    def count(self):
        """Real rows per member: a float, or an (M,) tensor."""
        if self.mask is None:
            return float(self.idx.shape[-1])
        return self.mask.sum(1)


class BatchPlan:
    """Cuts each member's rows into batches of its batch size, reshuffled every epoch.

    At step s, member m has the rows `order_m[s * B_m : (s + 1) * B_m]` of its epoch's
    order; the run has as many steps as the member that needs the most. Where members'
    row counts or batch sizes differ, each step is padded to its largest batch with a 0/1
    mask, and members without rows in a step are inactive for it.

    Args:
        rows: One index tensor per member, or one tensor shared by all members.
        members: Number of members M.
        batch_size: Rows per step: an int, or one int per member.
        shuffle: Whether to draw a new order every epoch.
        generators: One `torch.Generator` per member (used when shuffling).
        seeds: Each member's seed; members with equal seeds and rows share one order.
        device: Where the batches index tensors. The orders are drawn on the CPU (the same
            on every device) and moved in one transfer per epoch. Defaults to the CPU.
    """

    def __init__(self, rows, members, batch_size, shuffle, generators, seeds, device=None):
        self.shuffle = shuffle
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self._placed_padding = (None, None)  # (padding, its masks on the device)
        self.members = members
        self.selected = range(members)  # the members whose batches `epoch` gives
        per_member = rows if isinstance(rows, (list, tuple)) else [rows] * members
        self.rows = per_member
        keys = [(int(seeds[m]), id(per_member[m])) for m in range(members)]
        first = {}
        for m, key in enumerate(keys):
            first.setdefault(key, m)
        self.leaders = sorted(set(first.values()))
        self.generators = generators
        self.lengths = torch.tensor([len(r) for r in per_member])
        self.sizes = torch.as_tensor(batch_size).expand(members)
        self.batch_size = int(self.sizes.max())
        uniform = bool((self.sizes == self.batch_size).all())
        self.shared = len(self.leaders) == 1 and uniform
        self.steps = int((-(-self.lengths // self.sizes)).max())
        self._group = torch.tensor([first[k] for k in keys])
        self._padding = self._counts = None
        if not (uniform and bool((self.lengths == self.lengths[0]).all())):
            self._padding = self._pad_steps()

    @property
    def padded(self):
        """Whether members' steps differ in rows (then each draws its own dropout masks)."""
        return self._padding is not None

    def _pad_steps(self):
        """Each step's width, mask (M, width) and active members (None when all are)."""
        starts = torch.arange(self.steps).unsqueeze(1) * self.sizes
        counts = (self.lengths - starts).clamp(0).minimum(self.sizes)  # (steps, M)
        masks = (torch.arange(self.batch_size) < counts.unsqueeze(2)).float()
        active = counts > 0
        self._counts = counts.tolist()
        return [
            (width, masks[s, :, :width], None if everyone else active[s])
            for s, (width, everyone) in enumerate(
                zip(counts.amax(1).tolist(), active.all(1).tolist())
            )
        ]

    def select(self, members):
        """This plan for `members` (indices, in the order wanted) alone: each one's batches
        as this plan gives them (drawn from the same generators, padded to the same widths),
        in a plan over `len(members)` members; the orders of the others are not drawn."""
        part = copy.copy(self)
        part.selected = list(members)
        part.members = len(part.selected)
        index = torch.as_tensor(part.selected)
        part.leaders = sorted(set(self._group.index_select(0, index).tolist()))
        if self._padding is not None:
            part._padding = []
            for width, mask, active in self._padding:
                if active is not None:
                    active = active.index_select(0, index)
                    active = None if bool(active.all()) else active
                part._padding.append((width, mask.index_select(0, index), active))
            part._counts = [[row[m] for m in part.selected] for row in self._counts]
        return part

    def _order(self, member):
        rows = self.rows[member]
        if not self.shuffle:
            return rows
        return rows[torch.randperm(len(rows), generator=self.generators[member])]

    def _padding_on_device(self):
        """The steps' padding with its masks on the device, moved once per plan."""
        if self.device.type == "cpu":
            return self._padding
        padding, placed = self._placed_padding
        if padding is not self._padding:
            parts = [mask for _, mask, _ in self._padding]
            parts += [active for _, _, active in self._padding if active is not None]
            moved = iter(
                torch.cat([part.reshape(-1).float() for part in parts])
                .to(self.device)
                .split([part.numel() for part in parts])
            )
            masks = [next(moved).view(mask.shape) for _, mask, _ in self._padding]
            placed = [
                (width, mask, None if active is None else next(moved).view(active.shape).bool())
                for (width, _, active), mask in zip(self._padding, masks)
            ]
            self._placed_padding = (self._padding, placed)
        return placed

    def epoch(self):
        """The batches of one epoch (draws the orders now, on the CPU, and moves them to the
        device in one transfer)."""
        orders = {m: self._order(m) for m in self.leaders}
        size = self.batch_size
        if self.shared:
            order = orders[self.leaders[0]].to(self.device)
            return [Batch(order[s : s + size]) for s in range(0, len(order), size)]
        if self._padding is None:
            idx = torch.stack([orders[int(self._group[m])] for m in self.selected])
            idx = idx.to(self.device)
            return [Batch(idx[:, s : s + size]) for s in range(0, idx.shape[1], size)]
        idx = torch.zeros(self.steps, self.members, size, dtype=torch.long)
        for position, m in enumerate(self.selected):
            order, width = orders[int(self._group[m])], int(self.sizes[m])
            column = order.new_zeros(self.steps * width)
            column[: len(order)] = order
            idx[:, position, :width] = column.view(self.steps, width)
        idx = idx.to(self.device)
        return [
            Batch(idx[s, :, :width], mask, active, self._counts[s])
            for s, (width, mask, active) in enumerate(self._padding_on_device())
        ]
