"""Optimizers, each one small file with one update rule vectorized over members, and the
learning-rate schedules any of them takes (`optimizers.schedules`)."""

from netfleet import registry
from netfleet.errors import InvalidTypeError, unknown_name_error
from netfleet.optimizers import schedules
from netfleet.optimizers.adadelta import Adadelta
from netfleet.optimizers.adagrad import Adagrad
from netfleet.optimizers.adam import Adam
from netfleet.optimizers.adamax import Adamax
from netfleet.optimizers.adamw import AdamW
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.lion import Lion
from netfleet.optimizers.mixed import MixedOptimizer
from netfleet.optimizers.nadam import Nadam
from netfleet.optimizers.rmsprop import RMSprop
from netfleet.optimizers.sgd import SGD

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Lion",
    "MixedOptimizer",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "get",
    "schedules",
    "serialize",
]


def _rules():
    """The registered update rules by class name: every registered optimizer but
    `MixedOptimizer`, which only combines rules (a file names it; a string cannot)."""
    return {
        name: cls
        for name, cls in registry.entries("optimizer").items()
        if not issubclass(cls, MixedOptimizer)
    }


CLASSES = _rules()  # the built-in rules, for callers that list them


def get(identifier):
    """Return an optimizer from a Keras name ("adam", "sgd", ...), a config dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, dict):
        cls = registry.get("optimizer", identifier.get("class_name"))
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        by_name = {name.lower(): cls for name, cls in _rules().items()}
        cls = by_name.get(identifier.lower())
        if cls is None:
            raise unknown_name_error("optimizer", identifier, list(by_name))
        return cls()
    raise InvalidTypeError(
        f"An optimizer must be a name, a config dict or an Optimizer. Got {identifier!r}."
    )


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
