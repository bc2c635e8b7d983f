"""Every bad argument to compile / fit / evaluate / predict is rejected before any training,
with a ValueError or TypeError whose message names the argument and what it got."""

import numpy as np
import pytest

from netfleet.callbacks import Callback
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.utils import to_categorical

N = 24


@pytest.fixture
def data(rng):
    X = rng.normal(size=(N, 4))
    return X, (X[:, 0] > 0).astype(float), rng.integers(0, 10, size=N)


def _model(units=1, activation="sigmoid", loss="binary_crossentropy", metrics=("accuracy",)):
    model = Sequential([Dense(units, input_shape=(4,), activation=activation)])
    model.compile("sgd", loss, list(metrics))
    return model


def _digits_model(loss="categorical_crossentropy"):
    return _model(10, "softmax", loss)


def assert_rejected(model, error, match, method="fit", **kwargs):
    """`model.<method>(**kwargs)` raises `error` matching `match` and leaves the weights as
    they were."""
    before = model.get_weights()
    with pytest.raises(error, match=match):
        getattr(model, method)(**({"verbose": 0} | kwargs))
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert model.history is None or not model.history.history


# -- x ---------------------------------------------------------------------------------------------
def test_x_with_the_wrong_example_shape(data):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        r"'x' argument of fit has examples of shape \(3,\).*expects examples of shape \(4,\)",
        x=X[:, :3],
        y=y,
    )


@pytest.mark.parametrize("method", ["evaluate", "predict"])
def test_x_with_the_wrong_example_shape_in_evaluate_and_predict(data, method):
    X, y, _ = data
    kwargs = {"x": X[:, :, None]} | ({"y": y} if method == "evaluate" else {})
    assert_rejected(
        _model(),
        ValueError,
        rf"'x' argument of {method} has examples of shape \(4, 1\)",
        method,
        **kwargs,
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_x(data, bad):
    X, y, _ = data
    X = X.copy()
    X[5, 2] = bad
    assert_rejected(
        _model(),
        ValueError,
        r"'x' argument of fit contains NaN or infinite values \(first in example 5\)",
        x=X,
        y=y,
    )


def test_non_numeric_x(data):
    _, y, _ = data
    assert_rejected(
        _model(),
        TypeError,
        "'x' argument of fit must hold numbers. Got dtype <U",
        x=np.full((N, 4), "a"),
        y=y,
    )


# -- y ---------------------------------------------------------------------------------------------
def test_integer_labels_with_categorical_crossentropy_hint_at_the_fixes(data):
    X, _, digits = data
    assert_rejected(
        _digits_model(),
        ValueError,
        r"'y' argument of fit has labels of shape \(\).*to_categorical\(y, 10\).*"
        r"sparse_categorical_crossentropy",
        x=X,
        y=digits,
    )


def test_one_hot_labels_with_sparse_categorical_crossentropy(data):
    X, _, digits = data
    assert_rejected(
        _digits_model("sparse_categorical_crossentropy"),
        ValueError,
        r"'y' argument of fit must hold integer class labels.*Got shape \(24, 10\).*one-hot.*"
        r"categorical_crossentropy",
        x=X,
        y=to_categorical(digits, 10),
    )


@pytest.mark.parametrize("shift", [1, -1])
def test_sparse_labels_out_of_range(data, shift):
    X, _, digits = data
    digits = digits.copy()
    digits[0] = 9 if shift > 0 else 0
    digits = digits + shift
    assert_rejected(
        _digits_model("sparse_categorical_crossentropy"),
        ValueError,
        r"'y' argument of fit must hold labels in \[0, 9\] for a 10-unit output. Got labels from",
        x=X,
        y=digits,
    )


def test_binary_labels_out_of_range(data):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        r"'y' argument of fit must hold values in \[0, 1\].*Got values from 0.0 to 2.0",
        x=X,
        y=2 * y,
    )


def test_non_integer_sparse_labels(data):
    X, _, digits = data
    assert_rejected(
        _digits_model("sparse_categorical_crossentropy"),
        ValueError,
        "'y' argument of fit must hold integer class labels",
        x=X,
        y=digits + 0.5,
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_y(data, bad):
    X, y, _ = data
    y = y.copy()
    y[3] = bad
    assert_rejected(
        _model(loss="mse"),
        ValueError,
        r"'y' argument of fit contains NaN or infinite values \(first in example 3\)",
        x=X,
        y=y,
    )


def test_labels_of_the_wrong_width(data):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        r"'y' argument of fit has labels of shape \(2,\).*output has shape \(1,\)",
        x=X,
        y=np.stack([y, y], 1),
    )


# -- sizes -----------------------------------------------------------------------------------------
def test_empty_arrays(data):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        r"'x' argument of fit must hold at least one example. Got an array of shape \(0, 4\)",
        x=X[:0],
        y=y[:0],
    )


def test_x_and_y_of_different_lengths(data):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        "'x' and 'y' arguments of fit must have the same number of examples. Got 24 and 20",
        x=X,
        y=y[:20],
    )


def test_missing_y(data):
    X, _, _ = data
    assert_rejected(_model(), ValueError, "'y' argument of fit is required. Got None", x=X, y=None)


def test_sample_weight_of_the_wrong_length(data):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        r"'sample_weight' argument of fit must have one weight per example \(24\). Got 5",
        x=X,
        y=y,
        sample_weight=np.ones(5),
    )


def test_bad_class_weight(data):
    X, y, _ = data
    assert_rejected(
        _model(),
        TypeError,
        "'class_weight' argument of fit must be a dict",
        x=X,
        y=y,
        class_weight=[1.0, 2.0],
    )


def test_bad_validation_data_is_caught_before_training(data):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        r"'x' argument of fit \(validation_data\) has examples of shape \(3,\)",
        x=X,
        y=y,
        validation_data=(X[:, :3], y),
    )
    assert_rejected(
        _model(),
        TypeError,
        "'validation_data' argument of fit must be a tuple",
        x=X,
        y=y,
        validation_data=X,
    )


# -- fit's settings --------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [0, -4, 2.5, "32"])
def test_bad_batch_size(data, batch_size):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        rf"'batch_size' argument of fit must be an integer >= 1. Got {batch_size!r}",
        x=X,
        y=y,
        batch_size=batch_size,
    )


@pytest.mark.parametrize("epochs", [-1, 1.5])
def test_bad_epochs(data, epochs):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        rf"'epochs' argument of fit must be an integer >= 0. Got {epochs}",
        x=X,
        y=y,
        epochs=epochs,
    )


@pytest.mark.parametrize("split", [1.0, -0.1, 1.5, "0.2"])
def test_bad_validation_split(data, split):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        rf"'validation_split' argument of fit must be a float in \[0, 1\). Got {split!r}",
        x=X,
        y=y,
        validation_split=split,
    )


def test_bad_verbose(data):
    X, y, _ = data
    assert_rejected(
        _model(),
        ValueError,
        "'verbose' argument of fit must be 0, 1, 2 or 'auto'. Got 3",
        x=X,
        y=y,
        verbose=3,
    )


def test_a_non_callback_in_callbacks(data):
    X, y, _ = data
    assert_rejected(
        _model(),
        TypeError,
        "'callbacks' argument of fit must hold Callback instances. Got 'early_stopping'",
        x=X,
        y=y,
        callbacks=[Callback(), "early_stopping"],
    )


def test_fit_before_compile_raises_runtime_error(data):
    X, y, _ = data
    model = Sequential([Dense(1, input_shape=(4,))])
    with pytest.raises(RuntimeError, match=r"must call compile\(\) on the model before fit\(\)"):
        model.fit(X, y, verbose=0)
    with pytest.raises(RuntimeError, match=r"before evaluate\(\)"):
        model.evaluate(X, y, verbose=0)


# -- names in compile and layers -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": "adamm"}, "Unknown optimizer 'adamm'. Did you mean 'adam'?"),
        ({"optimizer": "rmsprob"}, "Unknown optimizer 'rmsprob'. Did you mean 'rmsprop'?"),
        (
            {"loss": "binary_crossentropi"},
            "Unknown loss 'binary_crossentropi'. Did you mean 'binary_crossentropy'?",
        ),
        (
            {"loss": "mean_square_error"},
            "Unknown loss 'mean_square_error'. Did you mean 'mean_squared_error'?",
        ),
        ({"metrics": ["acuracy"]}, "Unknown metric 'acuracy'. Did you mean 'accuracy'?"),
    ],
)
def test_unknown_names_in_compile(kwargs, match):
    model = Sequential([Dense(1, input_shape=(4,))])
    settings = {"optimizer": "sgd", "loss": "mse", "metrics": []} | kwargs
    with pytest.raises(ValueError, match=match.replace("?", r"\?").replace("(", r"\(")):
        model.compile(**settings)
    assert model.compiled is None


def test_compile_without_a_loss_raises():
    with pytest.raises(TypeError, match="compile\\(\\) needs a loss"):
        Sequential([Dense(1, input_shape=(4,))]).compile("sgd")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"activation": "sigmiod"}, "Unknown activation 'sigmiod'. Did you mean 'sigmoid'"),
        ({"activation": "rel"}, "Unknown activation 'rel'. Did you mean 'relu'"),
        (
            {"kernel_initializer": "glorot_unifrom"},
            "Unknown initializer 'glorot_unifrom'. Did you mean 'glorot_uniform'",
        ),
        ({"bias_initializer": "zero"}, "Unknown initializer 'zero'. Did you mean 'zeros'"),
    ],
)
def test_unknown_names_in_layers(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Dense(3, **kwargs)
