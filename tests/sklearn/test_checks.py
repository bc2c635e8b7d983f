"""scikit-learn's own estimator checks over NetClassifier and NetRegressor."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from netfleet.sklearn import NetClassifier, NetRegressor

# A seed makes the checks that fit twice and compare (idempotence, subsets) deterministic;
# enough epochs let the default model pass the checks that ask for a fair training score.
ESTIMATORS = [NetClassifier(seed=0, epochs=30), NetRegressor(seed=0, epochs=30)]

FLOAT32_ROUNDING = (
    "float32 matrix products may round differently for a different number of rows (by about "
    "1e-7 relative), and the check compares predictions on a subset to 1e-7"
)


def expected_failed_checks(estimator):
    return {"check_methods_subset_invariance": FLOAT32_ROUNDING}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
