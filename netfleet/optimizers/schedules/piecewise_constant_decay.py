"""A piecewise constant learning rate, as Keras 3 defines it."""

import torch

from netfleet import registry
from netfleet.errors import argument_error
from netfleet.optimizers.schedules.base import DeclaredSchedule, NumberList


@registry.register("schedule")
class PiecewiseConstantDecay(DeclaredSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i - 1] < step <= boundaries[i]`, and `values[-1]` after the last boundary.

    `boundaries` and `values` may each be a list of lists: one member of a fleet per list,
    crossed like any list setting. Members with different numbers of pieces are a list of
    schedules: `SGD(learning_rate=[PiecewiseConstantDecay(...), PiecewiseConstantDecay(...)])`.

    Args:
        boundaries: Strictly increasing step counts.
        values: The learning rates, one more than `boundaries`.
        name: Defaults to `"PiecewiseConstant"`.

    Example:
        >>> schedule = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
        >>> [float(schedule(step)) for step in (10, 11, 21)]
        [1.0, 0.5, 0.10000000149011612]
    """

    settings = {"boundaries": NumberList(increasing=True), "values": NumberList()}

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        super().__init__(name, boundaries=boundaries, values=values)

    def check_member(self, settings):
        boundaries, values = settings["boundaries"], settings["values"]
        if len(values) != len(boundaries) + 1:
            crossed = (
                "; lists of lists cross, each boundaries list with each values list: for "
                "members with different numbers of pieces, give the optimizer a list of "
                "schedules instead"
                if self.swept
                else ""
            )
            raise argument_error(
                "values",
                type(self).__name__,
                f"a list one longer than boundaries ({len(boundaries)} boundaries: "
                f"{len(boundaries) + 1} values){crossed}",
                values,
            )

    @classmethod
    def stack(cls, schedules, device):
        """Boundaries `(G, K)` and values `(G, K + 1)`, shorter members padded with
        boundaries no step passes and their last value."""
        pieces = max(len(s.boundaries) for s in schedules)
        boundaries = [
            s.boundaries + [float("inf")] * (pieces - len(s.boundaries)) for s in schedules
        ]
        values = [s.values + s.values[-1:] * (pieces - len(s.boundaries)) for s in schedules]
        return {
            "boundaries": torch.tensor(boundaries, dtype=torch.float32, device=device),
            "values": torch.tensor(values, dtype=torch.float32, device=device),
        }

    @staticmethod
    def rate(step, boundaries, values):
        passed = (step > boundaries).sum(1, keepdim=True)
        return values.gather(1, passed)
