"""The evaluation displays give scikit-learn's own numbers, computed independently here, for
scikit-learn estimators, cross-validation, netfleet models and each member of a fleet."""

import numpy as np
import pytest
from sklearn import metrics
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import cross_val_predict

from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.optimizers import SGD
from netfleet.reports import BinaryEvaluation, MulticlassEvaluation, new_figure, plot_roc


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


def test_cross_val_evaluation_matches_sklearn_computed_directly(digits):
    X, y = digits
    y_5 = y == 5
    sgd = SGDClassifier(random_state=42)
    evaluation = BinaryEvaluation.from_cross_val(sgd, X, y_5, cv=3, name="SGD")
    y_pred = cross_val_predict(sgd, X, y_5, cv=3)
    scores = cross_val_predict(sgd, X, y_5, cv=3, method="decision_function")
    numbers = evaluation.numbers()
    assert numbers["confusion_matrix"] == metrics.confusion_matrix(y_5, y_pred).tolist()
    assert numbers["precision"] == pytest.approx(metrics.precision_score(y_5, y_pred))
    assert numbers["recall"] == pytest.approx(metrics.recall_score(y_5, y_pred))
    assert numbers["f1"] == pytest.approx(metrics.f1_score(y_5, y_pred))
    assert numbers["roc_auc"] == pytest.approx(metrics.roc_auc_score(y_5, scores))


def test_threshold_for_a_target_precision_is_the_lectures_choice(digits):
    X, y = digits
    y_5 = y == 5
    scores = cross_val_predict(
        SGDClassifier(random_state=42), X, y_5, cv=3, method="decision_function"
    )
    evaluation = BinaryEvaluation(y_5, scores, threshold=0.0)
    precisions, _, thresholds = metrics.precision_recall_curve(y_5, scores)
    expected = thresholds[np.argmax(precisions >= 0.9)]  # Geron's formula
    assert evaluation.threshold_for(precision=0.9) == pytest.approx(expected)
    chosen = evaluation.at_threshold(expected)
    assert metrics.precision_score(y_5, chosen.y_pred) >= 0.9
    recall_threshold = evaluation.threshold_for(recall=0.8)
    assert metrics.recall_score(y_5, scores >= recall_threshold) >= 0.8
    with pytest.raises(ValueError, match="one target"):
        evaluation.threshold_for()


def test_a_fleet_gives_one_evaluation_per_member_with_its_own_predictions(digits):
    X, y = digits
    y_5 = (y == 5).astype(np.float32)
    fleet = Sequential([Dense(1, input_shape=(64,), activation="sigmoid")])
    fleet.compile(SGD(learning_rate=[0.01, 0.1, 1.0]), "binary_crossentropy")
    fleet.fit(X, y_5, epochs=2, verbose=0)
    evaluations = BinaryEvaluation.from_classifier(fleet, X, y_5, name="fleet")
    probabilities = fleet.predict(X, verbose=0)[..., 0]
    assert [e.name for e in evaluations] == ["fleet [0]", "fleet [1]", "fleet [2]"]
    for evaluation, member in zip(evaluations, probabilities):
        assert evaluation.numbers()["roc_auc"] == pytest.approx(metrics.roc_auc_score(y_5, member))
        np.testing.assert_array_equal(evaluation.y_pred, member >= 0.5)
    _, ax = new_figure()
    plot_roc(evaluations, ax)
    assert len(ax.get_lines()) == 4  # three members and the chance diagonal


def test_multiclass_numbers_match_sklearn(digits):
    X, y = digits
    model = LogisticRegression(max_iter=200).fit(X[:1200], y[:1200])
    (evaluation,) = MulticlassEvaluation.from_classifier(model, X[1200:], y[1200:])
    y_true, y_pred = y[1200:], model.predict(X[1200:])
    numbers = evaluation.numbers()
    assert numbers["accuracy"] == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    assert numbers["confusion_matrix"] == metrics.confusion_matrix(y_true, y_pred).tolist()
    macro = numbers["classification_report"]["macro avg"]
    assert macro["f1-score"] == pytest.approx(metrics.f1_score(y_true, y_pred, average="macro"))
    decision = model.decision_function(X[1200:])
    expected_ovr = np.mean([metrics.roc_auc_score(y_true == c, decision[:, c]) for c in range(10)])
    assert numbers["roc_auc"]["ovr"] == pytest.approx(expected_ovr)
    assert numbers["roc_auc"]["ovo"] is None  # decision values are not probabilities


def test_error_matrix_and_most_confused_pairs():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 1, 2, 0, 0, 1])
    evaluation = MulticlassEvaluation(y_true, y_pred)
    expected = metrics.confusion_matrix(y_true, y_pred, normalize="true")
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(evaluation.error_matrix(), expected)
    pairs = evaluation.most_confused(2)
    assert pairs[0] == {"true": 2, "predicted": 0, "count": 2, "rate": 0.5}
    assert (pairs[1]["true"], pairs[1]["predicted"]) in [(0, 1), (2, 1)]


def test_probabilities_give_one_vs_one_auc(digits):
    X, y = digits
    fleet = Sequential([Dense(10, input_shape=(64,), activation="softmax")])
    fleet.compile("adam", "sparse_categorical_crossentropy")
    fleet.fit(X, y, epochs=2, verbose=0)
    (evaluation,) = MulticlassEvaluation.from_classifier(fleet, X, y)
    proba = fleet.predict(X, verbose=0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    auc = evaluation.roc_auc()
    assert auc["ovo"] == pytest.approx(metrics.roc_auc_score(y, proba, multi_class="ovo"), abs=1e-6)
    assert auc["ovr"] == pytest.approx(metrics.roc_auc_score(y, proba, multi_class="ovr"), abs=1e-6)


def test_an_error_matrix_without_errors_says_so_and_stays_readable():
    from matplotlib.colors import to_rgb

    evaluation = MulticlassEvaluation(np.array([0, 1, 2]), np.array([0, 1, 2]), name="perfect")
    _, ax = new_figure()
    display = evaluation.plot_errors(ax)
    assert "no errors" in ax.get_title()
    assert all(max(to_rgb(text.get_color())) < 0.5 for text in display.text_.ravel())
