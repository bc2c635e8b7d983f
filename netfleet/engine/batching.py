"""Batch indices for an epoch, drawn once up front for every member.

Members whose rows and seed agree draw one shared order (their batches then enter the
first layer as one wide matrix product); members with their own rows or seeds (CV folds,
stacked models) get one order each, padded to a common length with a 0/1 mask where their
row counts differ.
"""

import torch


class Batch:
    """Row indices of one step: `(B,)` shared by all members, or `(M, B)` one row each.

    `mask` (M, B) marks real rows where members have different row counts; `active` (M,)
    marks members that have any row in this step. Both are None when every row is real.
    """

    __slots__ = ("active", "idx", "mask")

    def __init__(self, idx, mask=None, active=None):
        self.idx, self.mask, self.active = idx, mask, active

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
    """Cuts each member's rows into batches of `batch_size`, reshuffled every epoch.

    Args:
        rows: One index tensor per member, or one tensor shared by all members.
        members: Number of members M.
        batch_size: Rows per step.
        shuffle: Whether to draw a new order every epoch.
        generators: One `torch.Generator` per member (used when shuffling).
        seeds: Each member's seed; members with equal seeds and rows share one order.
    """

    def __init__(self, rows, members, batch_size, shuffle, generators, seeds):
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.members = members
        per_member = rows if isinstance(rows, (list, tuple)) else [rows] * members
        self.rows = per_member
        keys = [(int(seeds[m]), id(per_member[m])) for m in range(members)]
        first = {}
        for m, key in enumerate(keys):
            first.setdefault(key, m)
        self.leaders = sorted(set(first.values()))
        self.generators = generators
        self.shared = len(self.leaders) == 1
        self.lengths = torch.tensor([len(r) for r in per_member])
        self.steps = -(-int(self.lengths.max()) // batch_size)
        self._group = torch.tensor([first[k] for k in keys])

    def _order(self, member):
        rows = self.rows[member]
        if not self.shuffle:
            return rows
        return rows[torch.randperm(len(rows), generator=self.generators[member])]

    def epoch(self):
        """The batches of one epoch (draws the orders now)."""
        orders = {m: self._order(m) for m in self.leaders}
        size = self.batch_size
        if self.shared:
            order = orders[self.leaders[0]]
            return [Batch(order[s : s + size]) for s in range(0, len(order), size)]
        longest = int(self.lengths.max())
        idx = torch.zeros(self.members, longest, dtype=torch.long)
        for m in range(self.members):
            order = orders[int(self._group[m])]
            idx[m, : len(order)] = order
        if bool((self.lengths == longest).all()):
            return [Batch(idx[:, s : s + size]) for s in range(0, longest, size)]
        mask = (torch.arange(longest).unsqueeze(0) < self.lengths.unsqueeze(1)).float()
        batches = []
        for s in range(0, longest, size):
            step_mask = mask[:, s : s + size]
            active = step_mask.sum(1) > 0
            batches.append(
                Batch(idx[:, s : s + size], step_mask, None if bool(active.all()) else active)
            )
        return batches
