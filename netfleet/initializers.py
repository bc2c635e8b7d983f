"""Weight initializers with Keras' names, defaults and formulas.

Each initializer draws one member's tensor of `shape` from a `torch.Generator`; the member
axis is added by the layer that owns the weight.
"""

import math
import numbers
import re

import torch

from netfleet import registry
from netfleet.errors import InvalidTypeError, argument_error, unknown_name_error

_TRUNCATED_STDDEV_FIX = 0.87962566103423978  # std of a unit normal truncated at +-2


def _fans(shape):
    """Keras' fan_in / fan_out: the last two axes of a kernel, receptive field folded in."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: `init(shape, generator)` returns a float32 tensor of `shape`."""

    def __call__(self, shape, generator=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@registry.register("initializer")
class Zeros(Initializer):
    def __call__(self, shape, generator=None):
        return torch.zeros(shape)


@registry.register("initializer")
class Ones(Initializer):
    def __call__(self, shape, generator=None):
        return torch.ones(shape)


@registry.register("initializer")
class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = float(_real(value, "value", "Constant"))

    def __call__(self, shape, generator=None):
        return torch.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


@registry.register("initializer")
class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        _real(minval, "minval", "RandomUniform")
        if _real(maxval, "maxval", "RandomUniform") <= minval:
            raise argument_error("maxval", "RandomUniform", f"greater than minval={minval}", maxval)
        self.minval, self.maxval = minval, maxval
        self.seed = _seed(seed, "RandomUniform")

    def __call__(self, shape, generator=None):
        return torch.empty(shape).uniform_(
            self.minval, self.maxval, generator=_seeded(self, generator)
        )

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


@registry.register("initializer")
class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        _real(mean, "mean", "RandomNormal")
        if _real(stddev, "stddev", "RandomNormal", "a float > 0") <= 0:
            raise argument_error("stddev", "RandomNormal", "a float > 0", stddev)
        self.mean, self.stddev = mean, stddev
        self.seed = _seed(seed, "RandomNormal")

    def __call__(self, shape, generator=None):
        return torch.empty(shape).normal_(
            self.mean, self.stddev, generator=_seeded(self, generator)
        )

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


@registry.register("initializer")
class VarianceScaling(Initializer):
    """Keras' VarianceScaling: variance `scale / n`, n from `mode`, drawn from `distribution`."""

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        owner = type(self).__name__
        if _real(scale, "scale", owner, "a float > 0") <= 0:
            raise argument_error("scale", owner, "a float > 0", scale)
        if mode not in self.MODES:
            raise argument_error("mode", owner, f"one of {self.MODES}", mode)
        if distribution not in self.DISTRIBUTIONS:
            raise argument_error(
                "distribution", owner, f"one of {self.DISTRIBUTIONS}", distribution
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.seed = _seed(seed, owner)

    def __call__(self, shape, generator=None):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        generator = _seeded(self, generator)
        out = torch.empty(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return out.uniform_(-limit, limit, generator=generator)
        if self.distribution == "untruncated_normal":
            return out.normal_(0.0, math.sqrt(variance), generator=generator)
        std = math.sqrt(variance) / _TRUNCATED_STDDEV_FIX
        return torch.nn.init.trunc_normal_(out, 0.0, std, -2 * std, 2 * std, generator=generator)

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


def _variance_scaling(name, scale, mode, distribution):
    """A registered `VarianceScaling` with Keras' fixed settings for `name`; only its seed
    is free."""

    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    doc = f"Keras' {name}: VarianceScaling({scale}, {mode!r}, {distribution!r})."
    members = {"__init__": __init__, "get_config": get_config, "__doc__": doc}
    return registry.register("initializer")(type(name, (VarianceScaling,), members))


GlorotUniform = _variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _variance_scaling("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling("LecunUniform", 1.0, "fan_in", "uniform")


def _seeded(initializer, generator):
    """An initializer built with its own seed ignores the model's generator, as in Keras."""
    if initializer.seed is None:
        return generator
    return torch.Generator().manual_seed(int(initializer.seed))


def _real(value, name, owner, expected="a float"):
    """`value` if it is a real number (not a bool or NaN), else the standard error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise argument_error(name, owner, expected, value)
    return value


def _seed(seed, owner):
    """`seed` if it is None or an int >= 0, else the standard error."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise argument_error("seed", owner, "None or an integer >= 0", seed)
    return seed


# Keras' other spellings; every registered class is also known by its snake_case name.
ALIASES = {"uniform": "RandomUniform", "normal": "RandomNormal"}


def _names():
    """Every name `get` accepts, mapped to the registered class name it stands for."""
    registered = registry.entries("initializer")
    snake = {_snake_case(name): name for name in registered}
    return {**ALIASES, **snake, **{name: name for name in registered}}


def get(identifier):
    """Return an initializer from a Keras name, a config dict, a class or an instance."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, dict):
        cls = registry.get("initializer", identifier.get("class_name"))
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        known = _names()
        if identifier not in known:
            snake = [name for name in known if name.islower()]
            raise unknown_name_error("initializer", identifier, snake)
        return registry.get("initializer", known[identifier])()
    raise InvalidTypeError(
        f"An initializer must be a name, a config dict or an Initializer. Got {identifier!r}."
    )


def serialize(initializer):
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def _snake_case(name):
    """Keras' snake_case name of a class: `GlorotUniform` -> `glorot_uniform`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
