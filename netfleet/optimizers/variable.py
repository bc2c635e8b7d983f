"""`optimizer.learning_rate` as Keras gives it: a live handle on the learning rate (Keras 3's
`Variable`; what Keras 2 code passes to `K.get_value` / `K.set_value`), one value per member
in a fleet."""

import operator

import numpy as np

from netfleet.errors import InvalidTypeError


def _on_values(operation):
    def method(self, other):
        return operation(self.numpy(), other)

    return method


class LearningRate:
    """Each member's learning rate now, read and written through its optimizer.

    It prints, compares and computes as its value: a float for one member (or a fleet whose
    members share it), a list for a fleet whose members differ. A schedule's value is the
    rate of each member's current step. `numpy()` gives the values as NumPy (`(M,)` for a
    fleet), `assign(value)` sets them (a number, or one per member).

    Example:
        >>> from netfleet.optimizers import SGD
        >>> optimizer = SGD(learning_rate=[0.1, 0.5])
        >>> optimizer.learning_rate
        [0.1, 0.5]
        >>> optimizer.learning_rate.assign([0.05, 0.25])
        >>> optimizer.learning_rate * 2
        array([0.1, 0.5])
    """

    __hash__ = None  # it follows a value that changes

    def __init__(self, optimizer):
        self._optimizer = optimizer

    @property
    def value(self):
        values = self._optimizer.current_learning_rates().tolist()
        return values[0] if len(set(values)) == 1 else values

    def numpy(self):
        """The learning rates: a NumPy scalar for one member, an array `(M,)` for a fleet."""
        values = self._optimizer.current_learning_rates()
        return values[0] if len(values) == 1 else values

    def assign(self, value):
        """Set the learning rate: a number for every member, or a list with one per member."""
        if hasattr(value, "tolist"):
            value = value.tolist()  # NumPy arrays and tensors
        if isinstance(value, LearningRate):
            value = value.value
        self._optimizer.set_hyperparameter("learning_rate", value)

    def __float__(self):
        value = self.value
        if isinstance(value, list):
            raise InvalidTypeError(
                f"The members of this fleet have different learning rates {value}: read them "
                "with learning_rate.numpy() (one per member) instead of float()."
            )
        return float(value)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.numpy(), dtype=dtype)

    def __eq__(self, other):
        if isinstance(other, LearningRate):
            other = other.value
        return self.value == other

    def __repr__(self):
        return repr(self.value)

    __mul__ = _on_values(operator.mul)
    __rmul__ = _on_values(operator.mul)
    __truediv__ = _on_values(operator.truediv)
    __rtruediv__ = _on_values(lambda value, other: other / value)
    __add__ = _on_values(operator.add)
    __radd__ = _on_values(operator.add)
    __sub__ = _on_values(operator.sub)
    __rsub__ = _on_values(lambda value, other: other - value)
    __lt__ = _on_values(operator.lt)
    __le__ = _on_values(operator.le)
    __gt__ = _on_values(operator.gt)
    __ge__ = _on_values(operator.ge)
