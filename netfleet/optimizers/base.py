"""What every optimizer shares: hyperparameters that may be lists (one member per value,
one per combination for several lists), their `(M, 1)` tensors, state slots shaped like the
flat parameter buffer `(M, P)`, per-member step counts, and frozen members.

A rule file only declares its hyperparameters (with Keras' defaults and bounds) and writes
`update`, the maths of one step on the whole buffer, as the paper writes it.
"""

import itertools
import math
import numbers

import torch

from netfleet.errors import InvalidArgumentError, argument_error


class Hyperparameter:
    """A declared hyperparameter: its Keras default and the interval it must lie in."""

    def __init__(self, default, low=None, high=None, low_open=False, high_open=True, kind=float):
        self.default = default
        self.low, self.high = low, high
        self.low_open, self.high_open = low_open, high_open
        self.kind = kind

    def check(self, name, owner, value):
        if self.kind is bool:
            if not isinstance(value, bool):
                raise argument_error(name, owner, "True or False", value)
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise argument_error(name, owner, f"a float {self.describe()}", value)
        too_low = self.low is not None and (
            value <= self.low if self.low_open else value < self.low
        )
        too_high = self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        )
        if too_low or too_high:
            raise argument_error(name, owner, f"a float {self.describe()}", value)
        return float(value)

    def describe(self):
        low = "" if self.low is None else ("(" if self.low_open else "[") + f"{self.low}"
        high = "" if self.high is None else f"{self.high}" + (")" if self.high_open else "]")
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        return f"in {low}, {high}"


class Optimizer:
    """Base class of netfleet's optimizers, vectorized over the members of a fleet.

    Any hyperparameter may be given as a list: the optimizer then describes one member per
    value (one per combination, in `itertools.product` order, for several lists).
    """

    hyperparameters = {"learning_rate": Hyperparameter(0.001, 0.0, low_open=True)}

    def __init__(self, name=None, **values):
        owner = type(self).__name__
        self.name = name or owner.lower()
        unknown = set(values) - set(self.hyperparameters)
        if unknown:
            raise InvalidArgumentError(
                f"{owner} got unknown arguments {sorted(unknown)}. "
                f"Valid: {', '.join(self.hyperparameters)}."
            )
        self._values = {}
        for key, spec in self.hyperparameters.items():
            value = values.get(key, spec.default)
            if isinstance(value, (list, tuple)):
                if not value:
                    raise argument_error(key, owner, "a value or a non-empty list", value)
                self._values[key] = [spec.check(key, owner, v) for v in value]
            else:
                self._values[key] = spec.check(key, owner, value)
        self._data = None

    # -- members ---------------------------------------------------------------------------
    @classmethod
    def for_members(cls, rows, name=None):
        """An optimizer with one explicit row of hyperparameters per member (zipped, not
        crossed): what stacking models with their own optimizers needs."""
        optimizer = cls(name=name)
        optimizer._rows = [cls(**row)._values for row in rows]
        for key in cls.hyperparameters:
            values = [row[key] for row in optimizer._rows]
            optimizer._values[key] = values if len(set(values)) > 1 else values[0]
        return optimizer

    @property
    def swept(self):
        """Names of the hyperparameters given as lists."""
        return [k for k, v in self._values.items() if isinstance(v, list)]

    @property
    def member_params(self):
        """One dict per member of the swept hyperparameters' values."""
        swept = self.swept
        if getattr(self, "_rows", None):
            return [{k: row[k] for k in swept} for row in self._rows]
        combos = itertools.product(*(self._values[k] for k in swept))
        return [dict(zip(swept, combo)) for combo in combos]

    @property
    def num_members(self):
        if getattr(self, "_rows", None):
            return len(self._rows)
        return math.prod(len(self._values[k]) for k in self.swept)

    def member_values(self, key, members):
        """The value of `key` for each of `members` members."""
        value = self._values[key]
        if not isinstance(value, list):
            return [value] * members
        per_member = [p[key] for p in self.member_params]
        if len(per_member) != members:
            per_member = per_member * (members // len(per_member))
        return per_member

    def member_config(self, index):
        """The hyperparameters of member `index` alone (to rebuild it as a single model)."""
        return {
            key: self.member_values(key, self.num_members)[index] for key in self.hyperparameters
        }

    # -- state -----------------------------------------------------------------------------
    def build(self, data):
        """Create the `(M, 1)` hyperparameter tensors and the slots for buffer `data`."""
        members = data.shape[0]
        if members % self.num_members:
            raise InvalidArgumentError(
                f"{type(self).__name__} describes {self.num_members} members but the model has "
                f"{members}."
            )
        self.h = {
            key: torch.tensor(
                self.member_values(key, members), dtype=torch.float32, device=data.device
            ).view(-1, 1)
            for key in self.hyperparameters
        }
        self.iterations = torch.zeros(members, 1, device=data.device)
        self.slots = {}
        self.build_slots(data)
        self._data = data

    def build_slots(self, data):
        """Create `self.slots` for the rule; by default none."""

    def add_slot(self, name, data, fill=0.0):
        self.slots[name] = torch.full_like(data, fill)

    def is_built_for(self, data):
        return self._data is data

    @torch.no_grad()
    def apply(self, data, grad, active=None):
        """One step on `data` (M, P) with gradient `grad`; members where `active` is False
        keep their weights, slots and step count."""
        if active is None:
            self.iterations += 1
            self.update(data, grad, self.iterations)
            return
        frozen = (~active).nonzero().squeeze(1)
        state = [data, self.iterations, *self.slots.values()]
        saved = [t.index_select(0, frozen) for t in state]
        self.iterations += 1
        self.update(data, grad, self.iterations)
        for tensor, rows in zip(state, saved):
            tensor.index_copy_(0, frozen, rows)

    def update(self, param, grad, step):
        """The rule: update `param` (M, P) in place; `step` (M, 1) counts from 1."""
        raise NotImplementedError

    # -- Keras compatibility ---------------------------------------------------------------
    @property
    def learning_rate(self):
        return self._values["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, value):
        self.set_hyperparameter("learning_rate", value)

    lr = learning_rate

    def set_hyperparameter(self, key, value):
        """Change a hyperparameter between `fit` calls: a scalar for every member, or a list
        with one value per member (the members keep their other settings)."""
        owner = type(self).__name__
        if key not in self.hyperparameters:
            raise InvalidArgumentError(
                f"{owner} has no hyperparameter {key!r}. Valid: {', '.join(self.hyperparameters)}."
            )
        spec = self.hyperparameters[key]
        members = self.num_members if self._data is None else self.h[key].shape[0]
        if isinstance(value, (list, tuple)):
            if len(value) != members:
                raise argument_error(key, owner, f"a value or a list of {members} values", value)
            rows = [self.member_config(m % self.num_members) for m in range(members)]
            for row, item in zip(rows, value):
                row[key] = spec.check(key, owner, item)
            self._rows = rows
            checked = [row[key] for row in rows]
            self._values[key] = checked if len(set(checked)) > 1 else checked[0]
        else:
            checked = spec.check(key, owner, value)
            if getattr(self, "_rows", None):
                for row in self._rows:
                    row[key] = checked
            self._values[key] = checked
        if self._data is not None:
            tensor = torch.as_tensor(checked, dtype=torch.float32, device=self.h[key].device)
            self.h[key] = tensor.reshape(-1, 1).expand_as(self.h[key]).clone()

    def get_config(self):
        if getattr(self, "_rows", None):
            return {"name": self.name, "members": [dict(row) for row in self._rows]}
        return {"name": self.name, **self._values}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "members" in config:
            return cls.for_members(config["members"], name=config.get("name"))
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{type(self).__name__}({args})"
