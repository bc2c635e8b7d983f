"""scikit-learn integration: estimators around netfleet models, and cross-validated
searches whose candidates and folds train as batched fleets (successive halving included).

Importing this package imports scikit-learn; `import netfleet` does not.
"""

from netfleet.sklearn.estimators import NetClassifier, NetRegressor
from netfleet.sklearn.halving import FleetHalvingGridSearchCV, FleetHalvingRandomSearchCV
from netfleet.sklearn.search import FleetRandomizedSearchCV, FleetSearchCV

__all__ = [
    "FleetHalvingGridSearchCV",
    "FleetHalvingRandomSearchCV",
    "FleetRandomizedSearchCV",
    "FleetSearchCV",
    "NetClassifier",
    "NetRegressor",
]
