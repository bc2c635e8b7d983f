"""Fleets: stacking models into one batched run, sweeps, and their results.

The planners and the runner behind `sweep` (`grouping`, `runner`, `routing`) are modules of
this package, not part of its names.
"""

from netfleet.fleet.executors import LocalExecutor, RayExecutor
from netfleet.fleet.halving import Halving
from netfleet.fleet.results import SweepResult
from netfleet.fleet.stack import stack, unstack
from netfleet.fleet.sweep import expand_grid, sweep

__all__ = [
    "Halving",
    "LocalExecutor",
    "RayExecutor",
    "SweepResult",
    "expand_grid",
    "stack",
    "sweep",
    "unstack",
]
