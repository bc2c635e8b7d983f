"""What learning-rate schedules share: Keras' base class, and for netfleet's own schedules
declared settings that may be lists (one member of a fleet per value, crossed like an
optimizer's hyperparameters) and one formula that evaluates every member at once.
"""

import itertools
import math

import torch

from netfleet import registry
from netfleet.errors import InvalidArgumentError, InvalidTypeError, argument_error
from netfleet.optimizers.hyperparameters import member_product


class LearningRateSchedule:
    """Base class of learning-rate schedules (Keras' `LearningRateSchedule`).

    Give a schedule as the `learning_rate` of any optimizer: each member then steps with
    `schedule(step)`, where `step` counts that member's updates before this one (0 at the
    first), evaluated on the device at every step. A subclass writes `__call__(step)`:
    `step` is a float tensor `(M, 1)` (one row per member) and the result a tensor that
    broadcasts to it. Only netfleet's registered schedules can be saved with a model: a
    model file never holds code.
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self):
        raise InvalidArgumentError(
            f"The learning rate schedule {type(self).__name__} is Python code, and netfleet "
            "never serializes code: an optimizer using it works in memory, but its model "
            "cannot be saved with its compile settings. Use one of netfleet's schedules "
            f"({', '.join(sorted(registry.entries('schedule')))}) or save_weights()."
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class NumberList:
    """A declared setting whose value is a list of numbers (a sweep: a list of such lists)."""

    def __init__(self, increasing=False):
        self.increasing = increasing

    def is_sweep(self, value):
        return isinstance(value, (list, tuple)) and any(isinstance(v, (list, tuple)) for v in value)

    def check(self, name, owner, value):
        expected = "a non-empty list of numbers" + (
            ", strictly increasing" if self.increasing else ""
        )
        if not isinstance(value, (list, tuple)) or not value:
            raise argument_error(name, owner, expected, value)
        if any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) for v in value
        ):
            raise argument_error(name, owner, expected, value)
        if self.increasing and any(a >= b for a, b in itertools.pairwise(value)):
            raise argument_error(name, owner, expected, value)
        return [float(v) for v in value]


class DeclaredSchedule(LearningRateSchedule):
    """A netfleet schedule: declared settings, each a value or a list with one member per
    value (several lists cross in `itertools.product` order), and the formula
    `rate(step, **settings)`, written once for settings held as `(G, 1)` tensors.

    A subclass declares `settings` (name -> `Hyperparameter` or `NumberList`, in Keras'
    argument order), writes `__init__` with Keras' signature calling this one, and `rate`.
    Called directly, a schedule gives a 0-d tensor for a step number (one value per member,
    `(M,)`, when its settings are lists), as Keras' schedules do.
    """

    settings = {}

    def __init__(self, name, **values):
        owner = type(self).__name__
        if not isinstance(name, str) or not name:
            raise argument_error("name", owner, "a non-empty string", name)
        self.name = name
        self._values = {}
        for key, spec in self.settings.items():
            value = values[key]
            if spec.is_sweep(value):
                if not value:
                    raise argument_error(key, owner, "a value or a non-empty list", value)
                self._values[key] = [spec.check(key, owner, v) for v in value]
            else:
                self._values[key] = spec.check(key, owner, value)
        for member in self._member_settings():
            self.check_member(member)

    def check_member(self, settings):
        """Refuse one member's settings that do not fit together; by default all fit."""

    def __getattr__(self, key):
        values = self.__dict__.get("_values", {})
        if key in values:
            return values[key]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    # -- members ---------------------------------------------------------------------------
    @property
    def swept(self):
        """Names of the settings given as lists."""
        return [key for key, spec in self.settings.items() if spec.is_sweep(self._values[key])]

    @property
    def num_members(self):
        return len(self._member_settings())

    @property
    def member_params(self):
        """One dict per member of the swept settings' values."""
        return member_product(self._values, self.swept)

    def _member_settings(self):
        fixed = {key: value for key, value in self._values.items() if key not in self.swept}
        return [{**fixed, **swept} for swept in self.member_params]

    def members(self):
        """One single-member schedule per member, in `member_params` order."""
        return [type(self)(**settings, name=self.name) for settings in self._member_settings()]

    # -- evaluation ------------------------------------------------------------------------
    def __call__(self, step):
        step = torch.as_tensor(step, dtype=torch.float32)
        members = self.members()
        settings = type(self).stack(members, step.device)
        if step.ndim:
            return self.rate(step, **settings)
        rates = self.rate(step.expand(len(members), 1), **settings).reshape(-1)
        return rates[0] if len(members) == 1 else rates

    @staticmethod
    def rate(step, **settings):
        """The learning rates `(G, 1)` at `step` `(G, 1)` for settings `(G, 1)` each."""
        raise NotImplementedError

    @classmethod
    def stack(cls, schedules, device):
        """The settings of one-member `schedules` of this class as `(G, 1)` float tensors on
        `device` (True/False as 1/0), as `rate` reads them."""
        return {
            key: torch.tensor(
                [[float(s._values[key])] for s in schedules], dtype=torch.float32, device=device
            )
            for key in cls.settings
        }

    # -- Keras compatibility ---------------------------------------------------------------
    def get_config(self):
        return {**self._values, "name": self.name}

    def __eq__(self, other):
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self):
        return hash((type(self).__name__, repr(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self._values.items())
        return f"{type(self).__name__}({args})"


def serialize(schedule):
    """What a file stores for `schedule`: `{"class_name": ..., "config": ...}`."""
    if registry.entries("schedule").get(type(schedule).__name__) is not type(schedule):
        schedule.get_config()  # a schedule that is not netfleet's refuses, naming why
        raise InvalidArgumentError(
            f"The learning rate schedule {type(schedule).__name__} is not one of netfleet's "
            "registered schedules, so a model file cannot name it."
        )
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    """The schedule a file's `{"class_name": ..., "config": ...}` describes."""
    if not isinstance(config, dict) or not isinstance(config.get("config", {}), dict):
        raise InvalidTypeError(
            "A learning rate schedule config must be a dict {'class_name': ..., 'config': "
            f"{{...}}}}. Got {config!r}."
        )
    cls = registry.get("schedule", config.get("class_name"))
    return cls.from_config(config.get("config", {}))


def stored(value):
    """A setting as a config stores it: schedules (also in a list) as `serialize` writes
    them, anything else as it is."""
    if isinstance(value, list):
        return [stored(item) for item in value]
    return serialize(value) if isinstance(value, LearningRateSchedule) else value


def loaded(value):
    """A setting read back from a config: `stored`'s inverse."""
    if isinstance(value, list):
        return [loaded(item) for item in value]
    return deserialize(value) if isinstance(value, dict) else value
