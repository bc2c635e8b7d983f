"""`KerasClassifier` and `KerasRegressor`, as `keras.wrappers.scikit_learn` named them.

They are `netfleet.sklearn.NetClassifier` and `NetRegressor`: the first positional argument
is the build function, and its arguments are estimator parameters.

Example:
    >>> from netfleet.wrappers.scikit_learn import KerasClassifier
    >>> def make_model(hidden_size=32):
    ...     ...
    >>> clf = KerasClassifier(make_model, hidden_size=64)  # doctest: +SKIP
"""

from netfleet.sklearn.estimators import NetClassifier as KerasClassifier
from netfleet.sklearn.estimators import NetRegressor as KerasRegressor

__all__ = ["KerasClassifier", "KerasRegressor"]
