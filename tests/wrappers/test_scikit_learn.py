"""The lecture's Keras wrapper code, run with only its imports changed."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, KFold

from netfleet.datasets import mnist
from netfleet.layers import Activation, Dense
from netfleet.models import Sequential
from netfleet.sklearn import FleetSearchCV, NetClassifier, NetRegressor
from netfleet.utils import to_categorical
from netfleet.wrappers.scikit_learn import KerasClassifier, KerasRegressor

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def make_model(optimizer="adam", hidden_size=32):
    """The lecture's build function, verbatim."""
    model = Sequential(
        [
            Dense(hidden_size, input_shape=(784,)),
            Activation("relu"),
            Dense(10),
            Activation("softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def lecture_mnist():
    """3,000 MNIST training images prepared as the lecture prepares them (y one-hot)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared data folder is absent: {SHARED_DATA}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NETFLEET_DATA", str(SHARED_DATA))
        (X_train, y_train), _ = mnist.load_data()
    X_train = X_train[:3000].reshape(3000, 784).astype("float32") / 255
    return X_train, to_categorical(y_train[:3000], 10)


def test_the_wrappers_are_the_netfleet_estimators_with_keras_2s_interface():
    assert issubclass(KerasClassifier, NetClassifier) and issubclass(KerasRegressor, NetRegressor)
    clf = KerasClassifier(make_model, hidden_size=64)
    assert clf.get_params()["build_fn"] is make_model and clf.hidden_size == 64
    assert KerasClassifier(build_fn=make_model).build_fn is make_model


def test_import_netfleet_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = "import sys, netfleet; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_the_lecture_grid_search_runs_unchanged(lecture_mnist):
    X_train, y_train = lecture_mnist
    clf = KerasClassifier(make_model)
    param_grid = {"epochs": [1, 2], "hidden_size": [32, 64]}
    grid = GridSearchCV(clf, param_grid=param_grid, return_train_score=True)
    grid.fit(X_train, y_train)
    res = pd.DataFrame(grid.cv_results_)
    table = res.pivot_table(
        index=["param_epochs", "param_hidden_size"], values=["mean_train_score", "mean_test_score"]
    )
    assert table.shape == (4, 2)
    assert table["mean_test_score"].min() > 0.7
    assert grid.predict(X_train[:5]).shape == (5,)  # Keras 2: class indices for one-hot y


@pytest.mark.slow
def test_fleet_search_on_the_lecture_grid_equals_grid_search(lecture_mnist):
    X_train, y_train = lecture_mnist
    clf = KerasClassifier(make_model, seed=0, batch_size=128)
    param_grid = {"epochs": [1, 3], "hidden_size": [32, 64]}
    options = {"cv": KFold(3), "return_train_score": True}
    expected = GridSearchCV(clf, param_grid=param_grid, **options).fit(X_train, y_train)
    got = FleetSearchCV(clf, param_grid=param_grid, **options).fit(X_train, y_train)
    assert got.best_params_ == expected.best_params_
    for key in expected.cv_results_:
        if key.startswith(("split", "mean_t", "std_t")) and "time" not in key:
            np.testing.assert_allclose(
                got.cv_results_[key], expected.cv_results_[key], rtol=0, atol=1e-6, err_msg=key
            )
