"""What every optimizer shares: hyperparameters that may be lists (one member per value,
one per combination for several lists), their `(M, 1)` tensors, state slots shaped like the
flat parameter buffer `(M, P)`, per-member step counts, frozen members, and what Keras 3's
base optimizer does around every rule: a learning rate that may be a schedule, gradient
clipping and decoupled weight decay.

A rule file only declares its hyperparameters (with Keras' defaults and bounds, plus
`COMMON_OPTIONS`) and writes `update`, the maths of one step on the whole buffer, as the
paper writes it.
"""

import math

import numpy as np
import torch

from netfleet.errors import InvalidArgumentError, InvalidTypeError, argument_error
from netfleet.optimizers import rates
from netfleet.optimizers.hyperparameters import (
    CLIPPING_OPTIONS,
    COMMON_OPTIONS,
    Hyperparameter,
    check_one_clipping,
    member_product,
)
from netfleet.optimizers.options import GradientOptions
from netfleet.optimizers.schedules.base import (
    DeclaredSchedule,
    LearningRateSchedule,
    loaded,
    stored,
)
from netfleet.optimizers.variable import LearningRate


class Optimizer:
    """Base class of netfleet's optimizers, vectorized over the members of a fleet.

    Any hyperparameter may be given as a list: the optimizer then describes one member per
    value (one per combination, in `itertools.product` order, for several lists). The
    learning rate may be a schedule (`netfleet.optimizers.schedules`); a schedule whose
    settings are lists stands for its members, in the learning rate's place in the product.
    Positional arguments follow Keras' order: `SGD(0.1)` is `SGD(learning_rate=0.1)`.

    Keras 3's options, None (off) by default, act before every rule:

    - `weight_decay`: `w = w - w * weight_decay * learning_rate` (decoupled weight decay).
    - `clipnorm`: each weight's gradient rescaled to a norm of at most `clipnorm`.
    - `global_clipnorm`: all of a member's gradients rescaled to a norm of at most it.
    - `clipvalue`: each gradient value clipped to `[-clipvalue, clipvalue]`.

    At most one of the clipping options per member; a list with None beside values sets an
    option for some members only (`clipnorm=[None, 1.0]`).
    """

    hyperparameters = {
        "learning_rate": Hyperparameter(0.001, 0.0, low_open=True),
        **COMMON_OPTIONS,
    }

    def __init__(self, *args, name=None, **values):
        owner = type(self).__name__
        self.name = name or owner.lower()
        values = _by_name(owner, list(self.hyperparameters), args, values)
        unknown = set(values) - set(self.hyperparameters)
        if unknown:
            raise InvalidArgumentError(
                f"{owner} got unknown arguments {sorted(unknown)}. "
                f"Valid: {', '.join(self.hyperparameters)}."
            )
        self._values = {}
        for key, spec in self.hyperparameters.items():
            value = _members_of_schedule(values.get(key, spec.default))
            if isinstance(value, (list, tuple)):
                if not value:
                    raise argument_error(key, owner, "a value or a non-empty list", value)
                self._values[key] = [self._check(key, v) for v in value]
            else:
                self._values[key] = self._check(key, value)
        check_one_clipping(_clipping(self._values), owner)
        self._data = None

    def _check(self, key, value):
        """One value of hyperparameter `key`, checked; a learning rate may be a schedule."""
        owner = type(self).__name__
        spec = self.hyperparameters[key]
        if key != "learning_rate":
            return spec.check(key, owner, value)
        if isinstance(value, DeclaredSchedule) and value.num_members > 1:
            expected = "a float, a schedule, or a list of floats and single-member schedules"
            raise argument_error(key, owner, expected, value)
        if isinstance(value, LearningRateSchedule):
            return value
        try:
            return spec.check(key, owner, value)
        except InvalidArgumentError:
            expected = f"{spec.expected()} or a LearningRateSchedule"
            raise argument_error(key, owner, expected, value) from None

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

    def _swept_rows(self):
        """One dict per member of the swept hyperparameters' own values."""
        swept = self.swept
        if getattr(self, "_rows", None):
            return [{k: row[k] for k in swept} for row in self._rows]
        return member_product(self._values, swept)

    @property
    def member_params(self):
        """One dict per member of the swept hyperparameters' values; a swept schedule labels
        its members by the settings in which they differ."""
        rows = self._swept_rows()
        values = [row.get("learning_rate") for row in rows]
        if "learning_rate" not in self.swept or not rates.is_scheduled(values):
            return rows
        labels = rates.labels(values)
        return [
            {**label, **{k: v for k, v in row.items() if k != "learning_rate"}}
            for label, row in zip(labels, rows)
        ]

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
        per_member = [row[key] for row in self._swept_rows()]
        if len(per_member) != members:
            per_member = per_member * (members // len(per_member))
        return per_member

    def member_config(self, index):
        """The hyperparameters of member `index` alone (to rebuild it as a single model)."""
        return {
            key: self.member_values(key, self.num_members)[index] for key in self.hyperparameters
        }

    # -- state -----------------------------------------------------------------------------
    def build(self, data, segments=None):
        """Create the `(M, 1)` hyperparameter tensors and the slots for buffer `data`.

        Args:
            data: The flat weights `(M, P)`.
            segments: The `(start, end)` columns of each weight in a row of `data`, which
                `clipnorm` clips one by one (the model's `ParameterStore.segments`); None:
                the whole row is one weight.
        """
        members = data.shape[0]
        if members % self.num_members:
            raise InvalidArgumentError(
                f"{type(self).__name__} describes {self.num_members} members but the model has "
                f"{members}."
            )
        self.h = {
            key: self._member_tensor(key, members, data.device)
            for key in self.hyperparameters
            if key not in COMMON_OPTIONS and key != "learning_rate"
        }
        self.iterations = torch.zeros(members, 1, device=data.device)
        self._build_learning_rate(members, data.device)
        self.segments = segments
        self._build_options(data)
        self.slots = {}
        self.build_slots(data)
        self._data = data

    def _member_tensor(self, key, members, device):
        values = self.member_values(key, members)
        return torch.tensor(values, dtype=torch.float32, device=device).view(-1, 1)

    def _build_learning_rate(self, members, device):
        values = self.member_values("learning_rate", members)
        self._rates = None
        if rates.is_scheduled(values):
            self._rates = rates.MemberLearningRates(values, device)
            self.h["learning_rate"] = self._rates(self.iterations)
        else:
            self.h["learning_rate"] = self._member_tensor("learning_rate", members, device)

    def _build_options(self, data):
        members = data.shape[0]
        values = {
            key: self.member_values(key, members)
            for key in COMMON_OPTIONS
            if key in self.hyperparameters
        }
        self._options = GradientOptions.build(values, self.segments, data)

    def build_slots(self, data):
        """Create `self.slots` for the rule; by default none."""

    def scratch(self, index, like):
        """Scratch tensor number `index`, shaped like `like` and kept from step to step.

        A rule writes its intermediate results into it (`out=`) instead of allocating a
        fresh `(M, P)` tensor at every step: glibc maps large blocks afresh after they are
        freed, and the page faults then cost several times the arithmetic (Adam's update on
        a 16-member fleet of the lecture network: 2.6x).
        """
        buffers = self.__dict__.setdefault("_scratch", {})
        buffer = buffers.get(index)
        if buffer is None or buffer.shape != like.shape or buffer.device != like.device:
            buffer = buffers[index] = torch.empty_like(like)
        return buffer

    def __getstate__(self):
        """Pickled (a Ray task's result, a deep copy) without the scratch tensors."""
        state = dict(self.__dict__)
        state.pop("_scratch", None)
        return state

    def add_slot(self, name, data, fill=0.0):
        self.slots[name] = torch.full_like(data, fill)

    def is_built_for(self, data):
        return self._data is data

    @torch.no_grad()
    def apply(self, data, grad, active=None):
        """One step on `data` (M, P) with gradient `grad`; members where `active` is False
        keep their weights, slots and step count."""
        if active is None:
            self._step(data, grad)
            return
        frozen = (~active).nonzero().squeeze(1)
        state = [data, self.iterations, *self.slots.values()]
        saved = [t.index_select(0, frozen) for t in state]
        self._step(data, grad)
        for tensor, rows in zip(state, saved):
            tensor.index_copy_(0, frozen, rows)

    def _step(self, data, grad):
        """Keras' order: the learning rate at the step count before this step, clipping and
        weight decay, then the rule. Without a schedule or options, only the rule runs."""
        if self._rates is not None:
            self.h["learning_rate"] = self._rates(self.iterations)
        if self._options is not None:
            grad = self._options.apply(data, grad, self.h["learning_rate"])
        self.iterations += 1
        self.update(data, grad, self.iterations)

    def update(self, param, grad, step):
        """The rule: update `param` (M, P) in place; `step` (M, 1) counts from 1."""
        raise NotImplementedError

    # -- compaction ------------------------------------------------------------------------
    def select_members(self, rows, data, segments=None):
        """An optimizer of this kind for members `rows` (an index tensor, in any order) alone,
        built on their packed weights `data` `(len(rows), P)` (`segments` as `build` takes
        them) and holding their step counts and slots: what a fleet steps with once its
        stopped members left the computation. Each member steps exactly as it would here."""
        configs = [self.member_config(int(row) % self.num_members) for row in rows]
        part = type(self).for_members(configs, name=self.name)
        part.build(data, segments)
        self.gather_members(part, rows)
        return part

    @torch.no_grad()
    def gather_members(self, part, rows):
        """Copy the step counts and slots of members `rows` into `part` (`select_members`)."""
        part.iterations.copy_(self.iterations.index_select(0, rows))
        for name, slot in part.slots.items():
            slot.copy_(self.slots[name].index_select(0, rows))

    @torch.no_grad()
    def scatter_members(self, part, rows):
        """Copy `part`'s step counts and slots back into members `rows` of this optimizer."""
        self.iterations.index_copy_(0, rows, part.iterations)
        for name, slot in part.slots.items():
            self.slots[name].index_copy_(0, rows, slot)

    # -- Keras compatibility ---------------------------------------------------------------
    @property
    def learning_rate(self):
        """The learning rate now, as a live `LearningRate` (Keras' variable): it reads as a
        float (a list for a fleet whose members differ) and can be assigned."""
        return LearningRate(self)

    @learning_rate.setter
    def learning_rate(self, value):
        LearningRate(self).assign(value)

    lr = learning_rate

    def current_learning_rates(self):
        """Each member's learning rate now, `(M,)`: a schedule's value at its step count."""
        members = self._members()
        values = self.member_values("learning_rate", members)
        if not rates.is_scheduled(values):
            return np.asarray(values, dtype=float)
        steps = self.iterations if self._data is not None else torch.zeros(members, 1)
        with torch.no_grad():
            now = rates.MemberLearningRates(values, steps.device)(steps)
        return now.cpu().double().numpy().reshape(-1)

    def _members(self):
        return self.num_members if self._data is None else self.iterations.shape[0]

    def set_hyperparameter(self, key, value):
        """Change a hyperparameter between `fit` calls: a value for every member, or a list
        with one value per member (the members keep their other settings).

        Raises:
            InvalidTypeError: a number for the learning rate of members that follow a
                schedule (as Keras refuses it: give a schedule instead).
        """
        owner = type(self).__name__
        if key not in self.hyperparameters:
            raise InvalidArgumentError(
                f"{owner} has no hyperparameter {key!r}. Valid: {', '.join(self.hyperparameters)}."
            )
        value = _members_of_schedule(value)
        members = self._members()
        if isinstance(value, (list, tuple)):
            if len(value) != members:
                raise argument_error(key, owner, f"a value or a list of {members} values", value)
            rows = [self.member_config(m % self.num_members) for m in range(members)]
            new = [self._check(key, item) for item in value]
        else:
            rows = [dict(row) for row in getattr(self, "_rows", None) or []]
            new = [self._check(key, value)] * members
        if key == "learning_rate":
            _check_settable(self.member_values(key, members), new)
        for row, item in zip(rows, new):
            row[key] = item
        for row in rows or [{**self._values, key: new[0]}]:
            check_one_clipping(_clipping(row), owner)
        if rows:
            self._rows = rows
        self._values[key] = new if len(set(new)) > 1 else new[0]
        if self._data is not None:
            self._rebuild(key)

    def _rebuild(self, key):
        members, device = self.iterations.shape[0], self.iterations.device
        if key in COMMON_OPTIONS:
            self._build_options(self._data)
        elif key == "learning_rate":
            self._build_learning_rate(members, device)
        else:
            self.h[key] = self._member_tensor(key, members, device)
            kept, self.slots = self.slots, {}
            self.build_slots(self._data)  # a slot the new value needs starts afresh
            self.slots.update(kept)

    def get_config(self):
        if getattr(self, "_rows", None):
            rows = [{k: stored(v) for k, v in row.items()} for row in self._rows]
            return {"name": self.name, "members": rows}
        return {"name": self.name, **{k: stored(v) for k, v in self._values.items()}}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "members" in config:
            rows = [{k: loaded(v) for k, v in row.items()} for row in config["members"]]
            return cls.for_members(rows, name=config.get("name"))
        return cls(**{k: loaded(v) for k, v in config.items()})

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{type(self).__name__}({args})"


def _by_name(owner, names, args, values):
    """Keyword values with the positional `args` named in declaration (Keras') order."""
    if len(args) > len(names):
        raise InvalidTypeError(
            f"{owner} takes at most {len(names)} positional arguments ({', '.join(names)}). "
            f"Got {len(args)}."
        )
    twice = [name for name in names[: len(args)] if name in values]
    if twice:
        raise InvalidTypeError(f"{owner} got {twice[0]!r} both by position and by name.")
    return {**dict(zip(names, args)), **values}


def _members_of_schedule(value):
    """A schedule whose settings are lists stands for the list of its members."""
    if isinstance(value, DeclaredSchedule) and value.num_members > 1:
        return value.members()
    return value


def _clipping(values):
    return {key: values[key] for key in CLIPPING_OPTIONS if key in values}


def _check_settable(current, new):
    """Keras' rule: the learning rate of a member that follows a schedule is changed only by
    another schedule."""
    scheduled = [isinstance(value, LearningRateSchedule) for value in current]
    if any(s and not isinstance(n, LearningRateSchedule) for s, n in zip(scheduled, new)):
        raise InvalidTypeError(
            "This optimizer was created with a LearningRateSchedule as its learning_rate, so "
            "its learning rate cannot be set to a number. Give another schedule, or compile "
            "with an optimizer whose learning_rate is a float."
        )
