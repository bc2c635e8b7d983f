"""The regression evaluation gives scikit-learn's own numbers, computed independently here,
for a scikit-learn regressor and for each member of a netfleet fleet."""

import math

import numpy as np
import pytest
from sklearn import metrics
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.optimizers import Adam
from netfleet.reports import RegressionEvaluation, new_figure
from netfleet.utils import set_random_seed


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X.astype(np.float32), y.astype(np.float32)


def _expected(y_true, y_pred):
    mse = metrics.mean_squared_error(y_true, y_pred)
    return {
        "r2": metrics.r2_score(y_true, y_pred),
        "mae": metrics.mean_absolute_error(y_true, y_pred),
        "mse": mse,
        "rmse": math.sqrt(mse),
    }


def test_numbers_match_sklearn_for_a_sklearn_regressor(diabetes):
    X, y = diabetes
    model = Ridge().fit(X[:300], y[:300])
    (evaluation,) = RegressionEvaluation.from_regressor(model, X[300:], y[300:], name="ridge")
    assert evaluation.numbers() == pytest.approx(_expected(y[300:], model.predict(X[300:])))


def test_a_fleet_gives_one_evaluation_per_member_in_the_targets_units(diabetes):
    X, y = diabetes
    scaler = StandardScaler().fit(y[:300, None])
    set_random_seed(0)
    fleet = Sequential([Dense(1, input_shape=(10,))])
    fleet.compile(Adam(learning_rate=[0.001, 0.1]), "mse")
    fleet.fit(X[:300], scaler.transform(y[:300, None]), epochs=3, verbose=0)
    evaluations = RegressionEvaluation.from_regressor(
        fleet, X[300:], y[300:], name="fleet", inverse=scaler.inverse_transform
    )
    assert [e.name for e in evaluations] == ["fleet [0]", "fleet [1]"]
    predictions = fleet.predict(X[300:], verbose=0)
    for evaluation, member in zip(evaluations, predictions):
        in_units = scaler.inverse_transform(member.astype(np.float64))[:, 0]
        assert evaluation.numbers() == pytest.approx(_expected(y[300:], in_units))


def test_prediction_plots_and_bad_shapes(diabetes):
    _, y = diabetes
    evaluation = RegressionEvaluation(y[:50], y[:50] + 1.0, name="shifted")
    assert evaluation.numbers()["mae"] == pytest.approx(1.0)
    _, axes = new_figure(1, 2)
    evaluation.plot_predictions(axes[0])
    evaluation.plot_predictions(axes[1], kind="residual_vs_predicted")
    assert "R² =" in axes[0].get_title()
    with pytest.raises(ValueError, match="one prediction per target"):
        RegressionEvaluation(y[:5], y[:4])
