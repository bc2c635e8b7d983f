"""Declared hyperparameters (a Keras default and the interval a value must lie in), the
options every Keras 3 optimizer takes, and the crossing of swept values into members.

Optimizers and learning-rate schedules declare their settings with `Hyperparameter`; any
setting may be given as a list, one member per value, and several lists cross in
`itertools.product` order (`member_product`).
"""

import itertools
import math
import numbers

from netfleet.errors import argument_error


class Hyperparameter:
    """A declared hyperparameter: its Keras default and the interval it must lie in.

    Args:
        default: Keras' default value.
        low, high: The bounds, or None for none.
        low_open, high_open: Whether a bound itself is refused.
        kind: `float` (any real number, stored as a float) or `bool`.
        optional: Whether None ("off") is a valid value.
    """

    def __init__(
        self,
        default,
        low=None,
        high=None,
        low_open=False,
        high_open=True,
        kind=float,
        optional=False,
    ):
        self.default = default
        self.low, self.high = low, high
        self.low_open, self.high_open = low_open, high_open
        self.kind = kind
        self.optional = optional

    def check(self, name, owner, value):
        """`value` as stored (a float, a bool or None), or the library's error sentence."""
        if value is None and self.optional:
            return None
        if self.kind is bool:
            if not isinstance(value, bool):
                raise argument_error(name, owner, "True or False", value)
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise argument_error(name, owner, self.expected(), value)
        too_low = self.low is not None and (
            value <= self.low if self.low_open else value < self.low
        )
        too_high = self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        )
        if too_low or too_high:
            raise argument_error(name, owner, self.expected(), value)
        return float(value)

    def is_sweep(self, value):
        """Whether `value` gives one value per member rather than one value."""
        return isinstance(value, (list, tuple))

    def expected(self):
        """What a valid value is, as the error sentence says it."""
        return f"a float {self.describe()}" + (" or None" if self.optional else "")

    def describe(self):
        low = "" if self.low is None else ("(" if self.low_open else "[") + f"{self.low}"
        high = "" if self.high is None else f"{self.high}" + (")" if self.high_open else "]")
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        return f"in {low}, {high}"


# The options Keras 3's base optimizer gives every optimizer (None: off), in its order.
COMMON_OPTIONS = {
    "weight_decay": Hyperparameter(None, 0.0, optional=True),
    "clipnorm": Hyperparameter(None, 0.0, low_open=True, optional=True),
    "clipvalue": Hyperparameter(None, 0.0, low_open=True, optional=True),
    "global_clipnorm": Hyperparameter(None, 0.0, low_open=True, optional=True),
}

# At most one of them per member, as Keras allows.
CLIPPING_OPTIONS = ("clipnorm", "clipvalue", "global_clipnorm")


def member_product(values, swept):
    """One dict per member of the swept settings' values: `values[key]` is a list for each
    key of `swept`, and the lists cross in `itertools.product` order."""
    combos = itertools.product(*(values[key] for key in swept))
    return [dict(zip(swept, combo)) for combo in combos]


def check_one_clipping(values, owner):
    """Refuse settings that would give one member more than one clipping option.

    Args:
        values: `{name: value or list of values}` of the clipping options.
    """
    lists = {key: v if isinstance(v, list) else [v] for key, v in values.items()}
    for combo in member_product(lists, list(lists)):
        given = [key for key, value in combo.items() if value is not None]
        if len(given) > 1:
            raise argument_error(
                given[-1],
                owner,
                f"None for a member whose {given[0]} is set (Keras takes at most one of "
                "clipnorm, clipvalue and global_clipnorm per member)",
                combo[given[-1]],
            )
