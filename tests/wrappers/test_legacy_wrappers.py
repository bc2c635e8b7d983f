"""Keras 2's `keras.wrappers.scikit_learn` path: reachable after `import netfleet`, and
behaving as Keras 2's wrappers did for code written against them (`build_fn` and
`sk_params`, `fit` returning the history, `.model`, the regressor's score the negative
loss), while `netfleet.sklearn`'s estimators keep scikit-learn's conventions."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from netfleet.callbacks import History
from netfleet.layers import Dense
from netfleet.models import Model, Sequential
from netfleet.sklearn import NetClassifier, NetRegressor
from netfleet.wrappers.scikit_learn import KerasClassifier, KerasRegressor


def make_regressor(hidden_size=8, optimizer="adam"):
    model = Sequential([Dense(hidden_size, input_shape=(3,), activation="relu"), Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def make_classifier(hidden_size=8, output="sigmoid", metrics=("accuracy",)):
    units = 1 if output == "sigmoid" else 3
    loss = "binary_crossentropy" if output == "sigmoid" else "categorical_crossentropy"
    model = Sequential([Dense(hidden_size, input_shape=(3,), activation="relu")])
    model.add(Dense(units, activation=output))
    model.compile(optimizer="adam", loss=loss, metrics=list(metrics))
    return model


@pytest.fixture
def regression(rng):
    x = rng.normal(size=(60, 3)).astype(np.float32)
    return x, x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3


@pytest.fixture
def labels(rng):
    x = rng.normal(size=(60, 3)).astype(np.float32)
    return x, np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")


def test_the_keras_path_is_reachable_after_import_netfleet_alone():
    code = (
        "import sys, netfleet\n"
        "before = 'sklearn' in sys.modules\n"
        "cls = netfleet.wrappers.scikit_learn.KerasRegressor\n"
        "print(before, cls.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "netfleet.wrappers.scikit_learn"]


def test_sk_params_go_to_the_build_function_and_to_fit(regression):
    x, y = regression
    regressor = KerasRegressor(build_fn=make_regressor, hidden_size=5, epochs=3, verbose=0)
    history = regressor.fit(x, y)
    assert isinstance(history, History) and len(history.history["loss"]) == 3
    assert isinstance(regressor.model, Model) and regressor.model.layers[0].units == 5
    assert regressor.get_params()["hidden_size"] == 5
    assert regressor.get_params()["build_fn"] is make_regressor


def test_fit_arguments_override_sk_params(regression):
    x, y = regression
    regressor = KerasRegressor(make_regressor, epochs=3, verbose=0)
    history = regressor.fit(x, y, epochs=1, validation_data=(x[:10], y[:10]))
    assert len(history.history["loss"]) == 1 and "val_loss" in history.history
    fitted = KerasRegressor(make_regressor, epochs=2, verbose=0, initial_epoch=1).fit(x, y)
    assert history.epoch == [0] and fitted.epoch == [1]


def test_the_regressor_scores_the_negative_loss_and_the_estimator_r2(regression):
    x, y = regression
    legacy = KerasRegressor(make_regressor, epochs=2, verbose=0, seed=0)
    legacy.fit(x, y)
    loss = legacy.model.evaluate(x, y, verbose=0)
    assert legacy.score(x, y) == pytest.approx(-loss, rel=1e-6)
    estimator = NetRegressor(make_regressor, epochs=2, seed=0).fit(x, y)
    assert estimator.score(x, y) == pytest.approx(r2_score(y, estimator.predict(x)), rel=1e-6)
    assert estimator.model_ is not None and estimator.model is make_regressor


def test_the_regressor_predicts_one_value_per_row(regression):
    x, y = regression
    regressor = KerasRegressor(make_regressor, verbose=0)
    regressor.fit(x, y)
    predictions = regressor.predict(x)
    assert predictions.shape == (60,)
    expected = regressor.model.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(predictions, expected, rtol=1e-6, atol=1e-7)


def test_scikit_learn_searches_maximise_the_negative_loss(regression):
    x, y = regression
    regressor = KerasRegressor(make_regressor, epochs=1, verbose=0, seed=0)
    scores = cross_val_score(regressor, x, y, cv=KFold(3))
    assert scores.shape == (3,) and (scores < 0).all()
    grid = GridSearchCV(regressor, {"hidden_size": [2, 16]}, cv=KFold(2)).fit(x, y)
    assert grid.best_score_ == max(grid.cv_results_["mean_test_score"]) < 0
    assert isinstance(grid.best_estimator_.model, Model)


def test_the_classifier_gives_labels_probabilities_and_the_evaluated_accuracy(labels):
    x, y = labels
    classifier = KerasClassifier(make_classifier, epochs=2, verbose=0)
    classifier.fit(x, y)
    assert classifier.classes_.tolist() == ["no", "yes"] and classifier.n_classes_ == 2
    probabilities = classifier.predict_proba(x)
    assert probabilities.shape == (60, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    predicted = classifier.predict(x)
    assert predicted.shape == (60,) and set(predicted) <= {"no", "yes"}
    expected = np.where(classifier.model.predict(x, verbose=0)[:, 0] > 0.5, "yes", "no")
    np.testing.assert_array_equal(predicted, expected)
    accuracy = classifier.model.evaluate(x, (y == "yes").astype(np.float32), verbose=0)[1]
    assert classifier.score(x, y) == pytest.approx(accuracy)


def test_a_one_hot_classifier_predicts_class_indices_as_keras_2(rng):
    x = rng.normal(size=(60, 3)).astype(np.float32)
    y = np.eye(3)[np.argmax(x, axis=1)]
    classifier = KerasClassifier(make_classifier, output="softmax", epochs=2, verbose=0)
    classifier.fit(x, y)
    assert classifier.classes_.tolist() == [0, 1, 2]
    predicted = classifier.predict(x)
    np.testing.assert_array_equal(predicted, classifier.model.predict(x, verbose=0).argmax(1))
    estimator = NetClassifier(make_classifier, output="softmax", epochs=2).fit(x, y)
    assert estimator.predict(x).shape == (60, 3)  # scikit-learn's: y's own form


def test_scoring_a_classifier_without_accuracy_asks_for_it(labels):
    x, y = labels
    classifier = KerasClassifier(make_classifier, metrics=(), verbose=0)
    classifier.fit(x, y)
    with pytest.raises(ValueError, match=r'pass `metrics=\["accuracy"\]` to the `model.compile'):
        classifier.score(x, y)


def test_an_illegal_sk_param_is_an_error_at_once():
    with pytest.raises(ValueError, match="hiden_size is not a legal parameter of KerasClassifier"):
        KerasClassifier(make_classifier, hiden_size=8)
    classifier = KerasClassifier(make_classifier)
    with pytest.raises(ValueError, match="is not a legal parameter"):
        classifier.set_params(nb_layers=2)
    assert classifier.set_params(hidden_size=4, batch_size=8) is classifier
    assert classifier.get_params()["hidden_size"] == 4


def test_clone_and_set_params_keep_the_sk_params(labels):
    classifier = KerasClassifier(make_classifier, hidden_size=6, epochs=1, verbose=0)
    copy = clone(classifier)
    assert copy.get_params() == classifier.get_params() and copy.model is None
    copy.fit(*labels)
    assert clone(copy).model is None and copy.model.layers[0].units == 6


def test_a_subclass_may_write_the_build_function_as_call(regression):
    class MyRegressor(KerasRegressor):
        def __call__(self, hidden_size=3):
            return make_regressor(hidden_size)

    regressor = MyRegressor(hidden_size=7, verbose=0)
    regressor.fit(*regression)
    assert regressor.model.layers[0].units == 7


def test_model_is_not_a_parameter_of_the_legacy_wrappers():
    with pytest.raises(ValueError, match="takes its build function as build_fn"):
        KerasRegressor(model=make_regressor)
