"""Fleets: stacking models into one batched run, sweeps, and their results."""

from netfleet.fleet.grouping import group_indices
from netfleet.fleet.results import SweepResult
from netfleet.fleet.stack import stack, unstack
from netfleet.fleet.sweep import sweep

__all__ = ["SweepResult", "group_indices", "stack", "sweep", "unstack"]
