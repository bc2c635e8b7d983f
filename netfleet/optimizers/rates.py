"""Each member's learning rate: a number, or a schedule of the member's own step count
evaluated for every member at once on the device (nothing is read back to the host), and
the labels that members of a swept learning rate get in `member_params`."""

import functools

import torch

from netfleet.optimizers.schedules.base import DeclaredSchedule, LearningRateSchedule


def is_scheduled(values):
    """Whether any of the per-member learning rates `values` is a schedule."""
    return any(isinstance(value, LearningRateSchedule) for value in values)


class MemberLearningRates:
    """The learning rates `(M, 1)` at the step counts `(M, 1)` of members whose own rates
    are `values` (numbers or schedules, one per member).

    Members whose schedules are netfleet's, of one class, take one evaluation of its
    formula on their stacked settings; any other schedule is called on its members' step
    counts; numbers stay as they are.
    """

    def __init__(self, values, device):
        self.constants = torch.tensor(
            [[0.0 if isinstance(v, LearningRateSchedule) else v] for v in values],
            dtype=torch.float32,
            device=device,
        )
        groups = {}  # a netfleet schedule class, or one other schedule (by identity) -> rows
        for row, value in enumerate(values):
            if isinstance(value, LearningRateSchedule):
                declared = isinstance(value, DeclaredSchedule)
                groups.setdefault(type(value) if declared else id(value), []).append(row)
        self.parts = []
        for key, rows in groups.items():
            first = values[rows[0]]
            if isinstance(first, DeclaredSchedule):
                settings = key.stack([values[row] for row in rows], device)
                evaluate = functools.partial(_formula, key.rate, settings)
            else:
                evaluate = first
            index = None if len(rows) == len(values) else torch.tensor(rows, device=device)
            self.parts.append((index, evaluate))

    def __call__(self, steps):
        index, evaluate = self.parts[0]
        if index is None:  # one kind of schedule for every member
            return _as_rates(evaluate(steps), steps)
        rates = self.constants.clone()
        for index, evaluate in self.parts:
            own = steps.index_select(0, index)
            rates.index_copy_(0, index, _as_rates(evaluate(own), own))
        return rates


def _formula(rate, settings, steps):
    return rate(steps, **settings)


def _as_rates(result, steps):
    result = torch.as_tensor(result, dtype=torch.float32, device=steps.device)
    return torch.broadcast_to(result, steps.shape)


def labels(values):
    """One `member_params` label (a dict) per value of a swept learning rate: a number
    labels itself; a netfleet schedule, by the settings in which the swept schedules of
    its class differ (by its class name when none do); another schedule, by its class."""
    peers = {}
    for value in values:
        if isinstance(value, DeclaredSchedule):
            peers.setdefault(type(value), []).append(value.get_config())
    out = []
    for value in values:
        if not isinstance(value, LearningRateSchedule):
            out.append({"learning_rate": value})
            continue
        configs = peers.get(type(value), [])
        config = value.get_config() if configs else {}
        differing = [key for key in config if len({repr(other[key]) for other in configs}) > 1]
        out.append(
            {key: config[key] for key in differing} or {"learning_rate": type(value).__name__}
        )
    return out
