"""scikit-learn integration: estimators around netfleet models, and cross-validated
searches whose candidates and folds train as batched fleets.

Importing this package imports scikit-learn; `import netfleet` does not.
"""

from netfleet.sklearn.estimators import NetClassifier, NetRegressor
from netfleet.sklearn.search import FleetRandomizedSearchCV, FleetSearchCV

__all__ = ["FleetRandomizedSearchCV", "FleetSearchCV", "NetClassifier", "NetRegressor"]
