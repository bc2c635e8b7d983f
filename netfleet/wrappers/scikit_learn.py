"""`KerasClassifier` and `KerasRegressor`, as `keras.wrappers.scikit_learn` named them.

They are `netfleet.sklearn.NetClassifier` and `NetRegressor`: the first positional argument
is the build function, and its arguments are estimator parameters.

Example:
    >>> from netfleet.layers import Dense
    >>> from netfleet.models import Sequential
    >>> def make_model(hidden_size=32):
    ...     return Sequential(
    ...         [Dense(hidden_size, input_shape=(4,), activation="relu"), Dense(1, "sigmoid")]
    ...     )
    >>> clf = KerasClassifier(make_model, hidden_size=8)
    >>> clf.get_params()["hidden_size"]
    8
"""

from netfleet.sklearn.estimators import NetClassifier as KerasClassifier
from netfleet.sklearn.estimators import NetRegressor as KerasRegressor

__all__ = ["KerasClassifier", "KerasRegressor"]
