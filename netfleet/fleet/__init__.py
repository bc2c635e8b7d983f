"""Fleets: stacking models into one batched run, sweeps, and their results."""

from netfleet.fleet.stack import stack, unstack

__all__ = ["stack", "unstack"]
