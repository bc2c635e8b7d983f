"""Optimizers, each one small file with one update rule vectorized over members."""

from netfleet.errors import InvalidTypeError, unknown_name_error
from netfleet.optimizers.adadelta import Adadelta
from netfleet.optimizers.adagrad import Adagrad
from netfleet.optimizers.adam import Adam
from netfleet.optimizers.adamax import Adamax
from netfleet.optimizers.base import Optimizer
from netfleet.optimizers.mixed import MixedOptimizer
from netfleet.optimizers.nadam import Nadam
from netfleet.optimizers.rmsprop import RMSprop
from netfleet.optimizers.sgd import SGD

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "Adamax",
    "MixedOptimizer",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "get",
]

CLASSES = {cls.__name__: cls for cls in (SGD, RMSprop, Adam, Adadelta, Adagrad, Adamax, Nadam)}
# What a config dict may name: the rules, and fleets that mix them.
CONFIG_CLASSES = {**CLASSES, MixedOptimizer.__name__: MixedOptimizer}


def get(identifier):
    """Return an optimizer from a Keras name ("adam", "sgd", ...), a config dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, dict):
        cls = CONFIG_CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise unknown_name_error(
                "optimizer", identifier.get("class_name"), list(CONFIG_CLASSES)
            )
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        by_name = {name.lower(): cls for name, cls in CLASSES.items()}
        cls = by_name.get(identifier.lower())
        if cls is None:
            raise unknown_name_error("optimizer", identifier, list(by_name))
        return cls()
    raise InvalidTypeError(
        f"An optimizer must be a name, a config dict or an Optimizer. Got {identifier!r}."
    )


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
