"""Several optimizer kinds in one fleet, each updating its own consecutive members.

A fleet's weights are one `(M, P)` buffer. Each part of a `MixedOptimizer` is built on a row
slice of it, `data[a:b]`: a view, so the part's in-place updates land in the buffer. Its step
counts are views of one `(M, 1)` tensor too, so the state saves as one optimizer's would
(slots named `part<i>/<slot>`). A step costs one optimizer call per part.
"""

import itertools

import numpy as np
import torch

from netfleet import registry
from netfleet.errors import InvalidArgumentError, argument_error
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.variable import LearningRate


@registry.register("optimizer")
class MixedOptimizer(Optimizer):
    """Optimizers of several kinds over consecutive members of one fleet.

    Args:
        parts: `[(optimizer, member_count), ...]`: the first `member_count` members follow
            the first optimizer, the next ones the second, and so on. An optimizer that
            describes fewer members than its count repeats them, as when it compiles a
            fleet. Each part is copied, unbuilt.
        name: Defaults to `"mixedoptimizer"`.

    Example:
        >>> from netfleet.optimizers import SGD, Adam
        >>> optimizer = MixedOptimizer([(SGD(learning_rate=[0.1, 0.5]), 2), (Adam(), 1)])
        >>> [params["optimizer"] for params in optimizer.member_params]
        ['SGD', 'SGD', 'Adam']
        >>> optimizer.learning_rate
        [0.1, 0.5, 0.001]
    """

    def __init__(self, parts, name=None):
        self.name = name or "mixedoptimizer"
        if not isinstance(parts, (list, tuple)) or not parts:
            raise argument_error(
                "parts", "MixedOptimizer", "a non-empty list of (optimizer, member_count)", parts
            )
        self.parts = [_copy_part(part) for part in parts]
        ends = list(itertools.accumulate(count for _, count in self.parts))
        self.bounds = list(zip([0, *ends[:-1]], ends))
        self._data = None

    # -- members ---------------------------------------------------------------------------
    @property
    def num_members(self):
        return self.bounds[-1][1]

    @property
    def hyperparameters(self):
        """The hyperparameters every part has (their declarations in the first part)."""
        first = self.parts[0][0].hyperparameters
        return {
            key: spec
            for key, spec in first.items()
            if all(key in part.hyperparameters for part, _ in self.parts)
        }

    @property
    def member_params(self):
        """One dict per member: its optimizer kind and its part's swept hyperparameters."""
        return [
            {"optimizer": type(part).__name__, **params}
            for part, _ in self.parts
            for params in part.member_params
        ]

    def member_values(self, key, members):
        """The value of `key` (a hyperparameter of every part) for each of `members`."""
        values = [value for part, count in self.parts for value in part.member_values(key, count)]
        return values * (members // len(values))

    def member_config(self, index):
        """Member `index`'s own optimizer, as `optimizers.get` reads it:
        `{"class_name": ..., "config": {hyperparameters}}`."""
        part, start = self._part_of(index)
        return {"class_name": type(part).__name__, "config": part.member_config(index - start)}

    def _part_of(self, index):
        for (part, _), (start, end) in zip(self.parts, self.bounds):
            if start <= index < end:
                return part, start
        raise IndexError(f"member {index} of a {self.num_members}-member MixedOptimizer")

    # -- state -----------------------------------------------------------------------------
    def build(self, data, segments=None):
        """Build each part on its rows of `data` (M, P), sharing one step count tensor;
        `segments` as `Optimizer.build` takes them."""
        if data.shape[0] != self.num_members:
            raise InvalidArgumentError(
                f"MixedOptimizer describes {self.num_members} members but the model has "
                f"{data.shape[0]}."
            )
        self.iterations = torch.zeros(data.shape[0], 1, device=data.device)
        for (part, _), (start, end) in zip(self.parts, self.bounds):
            part.build(data[start:end], segments)
            part.iterations = self.iterations[start:end]
        self._data = data

    @property
    def slots(self):
        """Every part's slots, `(members of the part, P)` each, named `part<i>/<slot>`."""
        return {
            f"part{i}/{name}": slot
            for i, (part, _) in enumerate(self.parts)
            for name, slot in part.slots.items()
        }

    def apply(self, data, grad, active=None):
        """One step of each part on its rows; members where `active` is False keep theirs."""
        for (part, _), (start, end) in zip(self.parts, self.bounds):
            rows = None if active is None else active[start:end]
            part.apply(data[start:end], grad[start:end], rows)

    # -- compaction ------------------------------------------------------------------------
    def select_members(self, rows, data, segments=None):
        """A `MixedOptimizer` for members `rows` (an index tensor, in any order) alone, one
        part for each run of them that one part holds, built on `data` `(len(rows), P)` with
        their state (see `Optimizer.select_members`)."""
        pieces = self._pieces(rows)
        parts = [
            (type(part).for_members([part.member_config(int(r)) for r in local]), len(local))
            for part, local in pieces
        ]
        compact = MixedOptimizer(parts, name=self.name)
        compact.build(data, segments)
        self.gather_members(compact, rows)
        return compact

    def gather_members(self, part, rows):
        """Copy the state of members `rows` into `part` (`select_members`), part by part."""
        for (own, local), (compact, _) in zip(self._pieces(rows), part.parts):
            own.gather_members(compact, local)

    def scatter_members(self, part, rows):
        """Copy `part`'s state back into members `rows`, part by part."""
        for (own, local), (compact, _) in zip(self._pieces(rows), part.parts):
            own.scatter_members(compact, local)

    def _pieces(self, rows):
        """`(part, its own indices of rows)` for each run of consecutive `rows` that one
        part holds, in the order of `rows`."""
        starts = torch.tensor([start for start, _ in self.bounds])
        owners = (torch.searchsorted(starts, rows.cpu(), right=True) - 1).tolist()
        pieces = []
        for index, (row, owner) in enumerate(zip(rows.tolist(), owners)):
            if index == 0 or owner != owners[index - 1]:
                pieces.append((self.parts[owner][0], []))
            pieces[-1][1].append(row - self.bounds[owner][0])
        return [(part, torch.tensor(local, device=rows.device)) for part, local in pieces]

    # -- Keras compatibility ---------------------------------------------------------------
    @property
    def learning_rate(self):
        """Each member's learning rate now, as a live `LearningRate` (see `Optimizer`)."""
        return LearningRate(self)

    @learning_rate.setter
    def learning_rate(self, value):
        LearningRate(self).assign(value)

    lr = learning_rate

    def current_learning_rates(self):
        """Each member's learning rate now, `(M,)`."""
        return np.concatenate([part.current_learning_rates() for part, _ in self.parts])

    def set_hyperparameter(self, key, value):
        """Change a hyperparameter of every part: a scalar, or one value per member."""
        if isinstance(value, (list, tuple)) and len(value) != self.num_members:
            raise argument_error(
                key, "MixedOptimizer", f"a value or a list of {self.num_members} values", value
            )
        for (part, _), (start, end) in zip(self.parts, self.bounds):
            part.set_hyperparameter(
                key, list(value[start:end]) if isinstance(value, (list, tuple)) else value
            )

    def get_config(self):
        return {
            "name": self.name,
            "parts": [
                {
                    "class_name": type(part).__name__,
                    "config": part.get_config(),
                    "member_count": count,
                }
                for part, count in self.parts
            ],
        }

    @classmethod
    def from_config(cls, config):
        parts = []
        for part in config["parts"]:
            optimizer = registry.get("optimizer", part["class_name"]).from_config(part["config"])
            parts.append((optimizer, part["member_count"]))
        return cls(parts, name=config.get("name"))

    def __repr__(self):
        parts = ", ".join(f"({part!r}, {count})" for part, count in self.parts)
        return f"MixedOptimizer([{parts}])"


def _copy_part(part):
    """A fresh `(optimizer, count)` whose optimizer describes exactly `count` members."""
    if not isinstance(part, (list, tuple)) or len(part) != 2:
        raise argument_error("parts", "MixedOptimizer", "(optimizer, member_count) pairs", part)
    optimizer, count = part
    if not isinstance(optimizer, Optimizer) or isinstance(optimizer, MixedOptimizer):
        raise argument_error("parts", "MixedOptimizer", "pairs with a single-kind Optimizer", part)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise argument_error("parts", "MixedOptimizer", "pairs with a member count >= 1", part)
    if count % optimizer.num_members:
        raise InvalidArgumentError(
            f"{type(optimizer).__name__} describes {optimizer.num_members} members, which do "
            f"not repeat to fill its {count} members in MixedOptimizer."
        )
    rows = [optimizer.member_config(m % optimizer.num_members) for m in range(count)]
    return type(optimizer).for_members(rows, name=optimizer.name), count
