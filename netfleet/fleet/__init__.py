"""Fleets: stacking models into one batched run, sweeps, and their results."""

from netfleet.fleet.grouping import group_indices
from netfleet.fleet.stack import stack, unstack

__all__ = ["group_indices", "stack", "unstack"]
