"""Learning-rate schedules (Keras' `optimizers.schedules`), usable as the `learning_rate` of
any optimizer, with settings that may be lists (one member of a fleet per value)."""

from netfleet.optimizers.schedules.base import (
    DeclaredSchedule,
    LearningRateSchedule,
    deserialize,
    serialize,
)
from netfleet.optimizers.schedules.cosine_decay import CosineDecay
from netfleet.optimizers.schedules.exponential_decay import ExponentialDecay
from netfleet.optimizers.schedules.inverse_time_decay import InverseTimeDecay
from netfleet.optimizers.schedules.piecewise_constant_decay import PiecewiseConstantDecay

__all__ = [
    "CosineDecay",
    "DeclaredSchedule",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "deserialize",
    "serialize",
]
