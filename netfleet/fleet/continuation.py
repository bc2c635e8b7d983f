"""Continued runs: a member's training state after one run of the fleet runner
(`MemberState`), read off a trained fleet and given to a fleet stacked afresh, so that the
next run (the next rung of successive halving) continues each member exactly."""

import dataclasses

import torch

from netfleet.callbacks.history import History
from netfleet.optimizers import MixedOptimizer
from netfleet.saving.state import GENERATORS, OPTIMIZER, load_training_tensors, training_tensors


@dataclasses.dataclass(frozen=True)
class MemberState:
    """Where a member's training stopped, so that a later run continues it exactly.

    Args:
        tensors: Its optimizer state and its random generators' states, named as a single
            model's are (`netfleet.saving.state.training_tensors`), one row each.
        stopped: Whether a callback (EarlyStopping) stopped it: it stays frozen.
        seconds: Its share of the training time so far.
    """

    tensors: dict
    stopped: bool = False
    seconds: float = 0.0


def continued_history(earlier, later):
    """One member's `History` of a run that continued `earlier` (None: a fresh run)."""
    if earlier is None:
        return later
    joined = History()
    for key in dict.fromkeys([*earlier.history, *later.history]):
        joined.history[key] = [*earlier.history.get(key, []), *later.history.get(key, [])]
    joined.epoch = [*earlier.epoch, *later.epoch]
    joined.member_params = later.member_params
    return joined


def _optimizer_parts(optimizer, members):
    """`(slot name prefix, first member, end)` of each optimizer kind's rows in a fleet."""
    if isinstance(optimizer, MixedOptimizer):
        return [(f"part{i}/", start, end) for i, (start, end) in enumerate(optimizer.bounds)]
    return [("", 0, members)]


def member_states(fleet, stopped, seconds_of):
    """Each member's `MemberState`: its rows of the fleet's training state, its slots named
    as its own optimizer's; `stopped` holds the members a callback stopped and
    `seconds_of(m)` gives member m's training seconds."""
    tensors = training_tensors(fleet)
    parts = _optimizer_parts(fleet.compiled.optimizer, fleet.num_members)
    shared = {k: v for k, v in tensors.items() if k.startswith(GENERATORS)}
    if OPTIMIZER + "iterations" in tensors:
        shared[OPTIMIZER + "iterations"] = tensors[OPTIMIZER + "iterations"]
    states = []
    for m in range(fleet.num_members):
        own = {key: value[m : m + 1].clone() for key, value in shared.items()}
        prefix, start = next((p, s) for p, s, end in parts if s <= m < end)
        for key, value in tensors.items():
            name = key[len(OPTIMIZER) :]
            if key.startswith(OPTIMIZER) and name != "iterations" and name.startswith(prefix):
                own[OPTIMIZER + name[len(prefix) :]] = value[m - start : m - start + 1].clone()
        states.append(MemberState(own, m in stopped, seconds_of(m)))
    return states


def load_states(fleet, states):
    """Give `fleet` (stacked afresh) its members' optimizer and generator state."""
    tensors = {}
    for key in states[0].tensors:
        if key.startswith(GENERATORS) or key == OPTIMIZER + "iterations":
            tensors[key] = torch.cat([state.tensors[key] for state in states])
    for prefix, start, end in _optimizer_parts(fleet.compiled.optimizer, fleet.num_members):
        for key in states[start].tensors:
            if key.startswith(OPTIMIZER) and key != OPTIMIZER + "iterations":
                slot = OPTIMIZER + prefix + key[len(OPTIMIZER) :]
                tensors[slot] = torch.cat([state.tensors[key] for state in states[start:end]])
    load_training_tensors(fleet, tensors, "the members' earlier run")
