"""NetClassifier and NetRegressor: parameters, target forms, building, scikit-learn tools."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.ops import seeding
from netfleet.sklearn import NetClassifier, NetRegressor
from netfleet.utils import to_categorical


def make_model(hidden_size=32, activation="relu"):
    """An uncompiled 13 -> hidden -> 3 softmax model (the wines' shape)."""
    return Sequential(
        [
            Dense(hidden_size, input_shape=(13,), activation=activation),
            Dense(3, activation="softmax"),
        ]
    )


def make_compiled_model(optimizer="adam", hidden_size=32):
    model = make_model(hidden_size)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


# -- parameters ----------------------------------------------------------------------------
def test_routed_parameters_are_parameters_that_clone_keeps():
    clf = NetClassifier(make_model, hidden_size=16, model__activation="tanh", epochs=3)
    params = clf.get_params()
    assert params["hidden_size"] == 16
    assert params["model__activation"] == "tanh"
    copy = clone(clf)
    assert copy.get_params() == params
    assert "hidden_size=16" in repr(clf)


def test_set_params_takes_build_arguments_plain_and_prefixed():
    clf = NetClassifier(make_model)
    clf.set_params(hidden_size=32, model__activation="tanh", optimizer__learning_rate=0.01)
    assert clf.hidden_size == 32
    assert clf.get_params()["model__activation"] == "tanh"
    assert clf.get_params()["optimizer__learning_rate"] == 0.01


def test_set_params_rejects_a_name_the_build_function_does_not_take():
    with pytest.raises(ValueError, match=r"Invalid parameters \['hiden_size'\].*'hidden_size'"):
        NetClassifier(make_model).set_params(hiden_size=32)


def test_fit_lists_prefixed_names_that_reach_nothing(wine_data):
    X, y = wine_data
    clf = NetClassifier(make_model, model__hiden_size=4)
    with pytest.raises(ValueError, match="'model__hiden_size' \\(did you mean 'hidden_size'"):
        clf.fit(X, y)


def test_a_parameter_named_like_a_method_is_refused():
    with pytest.raises(TypeError, match="model__fit"):
        NetClassifier(make_model, fit=3)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"epochs": -1}, "The 'epochs' argument of NetClassifier must be an integer >= 0"),
        ({"batch_size": 0}, "'batch_size' argument of NetClassifier"),
        ({"validation_split": 1.5}, "'validation_split' argument of NetClassifier"),
        ({"model": 3}, "'model' argument of NetClassifier must be a build function"),
    ],
)
def test_fit_checks_the_estimator_parameters(wine_data, params, message):
    X, y = wine_data
    with pytest.raises(ValueError, match=message):
        NetClassifier(**params).fit(X, y)


# -- targets -------------------------------------------------------------------------------
def test_binary_labels_give_a_sigmoid_output_and_two_probability_columns(banknote_data):
    X, y = banknote_data
    clf = NetClassifier(seed=0, epochs=5).fit(X, y)
    assert clf.model_.output_shape[-1] == 1
    assert clf.model_.compiled.loss.name == "binary_crossentropy"
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert clf.score(X, y) > 0.95
    assert list(clf.classes_) == [0, 1]


def test_string_labels_come_back_as_strings(wine_data):
    X, y = wine_data
    labels = np.array(["a", "b", "c"])[y - 1]
    clf = NetClassifier(seed=0, epochs=10).fit(X, labels)
    assert list(clf.classes_) == ["a", "b", "c"]
    assert set(clf.predict(X)) <= {"a", "b", "c"}
    assert clf.score(X, labels) > 0.9
    assert clf.model_.compiled.loss.name == "categorical_crossentropy"


def test_one_hot_in_one_hot_out(wine_data):
    X, y = wine_data
    one_hot = to_categorical(y - 1, 3)
    clf = NetClassifier(make_compiled_model, seed=0, epochs=20).fit(X, one_hot)
    assert list(clf.classes_) == [0, 1, 2]
    predicted = clf.predict(X)
    assert predicted.shape == (len(X), 3) and predicted.dtype == one_hot.dtype
    np.testing.assert_array_equal(predicted.sum(axis=1), 1)
    assert clf.score(X, one_hot) > 0.9


def test_multilabel_and_continuous_targets_are_refused(wine_data):
    X, _ = wine_data
    with pytest.raises(ValueError, match="not one-hot"):
        NetClassifier().fit(X, np.ones((len(X), 3)))
    with pytest.raises(ValueError, match="Unknown label type"):
        NetClassifier().fit(X, X[:, 0])


def test_sparse_loss_gets_integer_labels(wine_data):
    X, y = wine_data
    clf = NetClassifier(make_model, loss="sparse_categorical_crossentropy", seed=0, epochs=20)
    assert clf.fit(X, y).score(X, y) > 0.9


def test_output_units_that_do_not_fit_the_classes_are_reported(banknote_data):
    X, y = banknote_data

    def three_units():
        return Sequential([Dense(3, input_shape=(4,), activation="softmax")])

    with pytest.raises(ValueError, match="outputs 3 units, but y has 2 classes"):
        NetClassifier(three_units).fit(X, y)


def test_bad_inputs_get_scikit_learn_errors(wine_data):
    X, y = wine_data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        NetClassifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        NetClassifier().fit(np.where(X > 2, np.nan, X), y)
    clf = NetClassifier(epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="13 features"):
        clf.predict(X[:, :5])


# -- building ------------------------------------------------------------------------------
def test_uncompiled_models_get_the_estimator_optimizer_and_its_routed_hyperparameters(wine_data):
    X, y = wine_data
    clf = NetClassifier(make_model, optimizer="sgd", optimizer__learning_rate=0.05).fit(X, y)
    optimizer = clf.model_.compiled.optimizer
    assert type(optimizer).__name__ == "SGD"
    assert optimizer.learning_rate == 0.05


def test_a_build_function_taking_optimizer_receives_the_estimator_one(wine_data):
    X, y = wine_data
    clf = NetClassifier(make_compiled_model, optimizer="rmsprop").fit(X, y)
    assert type(clf.model_.compiled.optimizer).__name__ == "RMSprop"


def test_optimizer_settings_cannot_apply_to_a_compiled_model(wine_data):
    X, y = wine_data
    with pytest.raises(ValueError, match="returns a compiled model"):
        NetClassifier(make_compiled_model, optimizer__learning_rate=0.1).fit(X, y)


def test_build_functions_receive_the_meta_arguments_they_name(wine_data):
    X, y = wine_data
    seen = {}

    def build(n_features_in_, n_outputs_, output_activation_):
        seen.update(n=n_features_in_, out=n_outputs_, activation=output_activation_)
        return Sequential([Dense(n_outputs_, input_shape=(n_features_in_,), activation="softmax")])

    NetClassifier(build).fit(X, y)
    assert seen == {"n": 13, "out": 3, "activation": "softmax"}


def test_a_model_instance_is_an_architecture_trained_afresh_by_each_fit(wine_data):
    X, y = wine_data
    template = make_model(4)
    before = template.get_weights()
    clf = NetClassifier(template, seed=0, epochs=2).fit(X, y)
    assert clf.model_ is not template
    for a, b in zip(before, template.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(clf.predict(X), clone(clf).fit(X, y).predict(X))


def test_model_and_build_fn_are_exclusive(wine_data):
    X, y = wine_data
    with pytest.raises(ValueError, match="not both"):
        NetClassifier(make_model, build_fn=make_model).fit(X, y)


def test_a_seed_repeats_the_fit_and_leaves_the_global_generator_alone(wine_data):
    X, y = wine_data
    state = seeding.global_generator().get_state()
    first = NetClassifier(seed=3, epochs=2).fit(X, y).predict_proba(X)
    again = NetClassifier(seed=3, epochs=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert seeding.global_generator().get_state().equal(state)
    other = NetClassifier(seed=4, epochs=2).fit(X, y).predict_proba(X)
    assert not np.array_equal(first, other)


def test_history_and_fit_routes(wine_data):
    X, y = wine_data
    clf = NetClassifier(make_model, epochs=3, validation_split=0.2, metrics=["accuracy"])
    clf.set_params(fit__shuffle=False).fit(X, y)
    assert set(clf.history_.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(clf.history_.history["loss"]) == 3


# -- scikit-learn tools --------------------------------------------------------------------
def test_cross_validation_in_a_pipeline(wine_data):
    X, y = wine_data
    pipe = make_pipeline(StandardScaler(), NetClassifier(seed=0, epochs=10))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85
    predicted = cross_val_predict(NetClassifier(seed=0, epochs=5), X, y, cv=3)
    assert predicted.shape == y.shape and set(predicted) <= {1, 2, 3}


def test_grid_search_over_routed_parameters(wine_data):
    X, y = wine_data
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = GridSearchCV(
        NetClassifier(make_model, seed=0, epochs=5), {"hidden_size": [2, 16]}, cv=cv
    ).fit(X, y)
    assert grid.best_params_ in ({"hidden_size": 2}, {"hidden_size": 16})
    assert grid.best_estimator_.model_.layers[0].units == grid.best_params_["hidden_size"]


def test_regressor_predicts_the_shape_of_y(wine_data):
    X, _ = wine_data
    features, alcohol = X[:, 1:], X[:, 0]
    reg = NetRegressor(seed=0, epochs=30).fit(features, alcohol)
    assert reg.model_.compiled.loss.name == "mean_squared_error"
    assert reg.predict(features).shape == (len(X),)
    assert reg.score(features, alcohol) > 0.5
    two = np.column_stack([alcohol, X[:, 1]])
    reg = NetRegressor(seed=0, epochs=2).fit(X[:, 2:], two)
    assert reg.predict(X[:, 2:]).shape == (len(X), 2)
    assert cross_val_score(NetRegressor(seed=0, epochs=10), features, alcohol, cv=3).shape == (3,)


def test_the_package_exports_its_public_names():
    import netfleet.sklearn as package

    assert package.__all__ == [
        "FleetHalvingGridSearchCV",
        "FleetHalvingRandomSearchCV",
        "FleetRandomizedSearchCV",
        "FleetSearchCV",
        "NetClassifier",
        "NetRegressor",
    ]
    assert all(hasattr(package, name) for name in package.__all__)
