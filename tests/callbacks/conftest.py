"""Shared data and models for the callback tests: the wines and banknotes data sets and
the tiny classifiers the course trains on them."""

import pytest
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from netfleet.datasets import banknotes, wines
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.utils import set_random_seed, to_categorical


@pytest.fixture(scope="session")
def wines_data():
    """Scaled wine features (178, 13) and one-hot classes (178, 3)."""
    x, y = wines.load_data()
    return StandardScaler().fit_transform(x).astype("float32"), to_categorical(y - 1)


@pytest.fixture(scope="session")
def wines_split(wines_data):
    """(x_train, y_train, x_test, y_test) as the course splits them (30 % test, seed 42)."""
    x, y = wines_data
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=42, stratify=y.argmax(1)
    )
    return x_train, y_train, x_test, y_test


@pytest.fixture(scope="session")
def banknotes_data():
    """Scaled banknote features (1372, 4) and labels (1372,)."""
    x, y = banknotes.load_data()
    return StandardScaler().fit_transform(x).astype("float32"), y.astype("float32")


@pytest.fixture
def wines_model():
    """A factory of the tiny wine classifier, compiled with `optimizer`."""

    def make(optimizer="adam", seed=0, metrics=("accuracy",)):
        set_random_seed(seed)
        model = Sequential(
            [Dense(8, input_shape=(13,), activation="relu"), Dense(3, activation="softmax")],
            seed=seed,
        )
        model.compile(optimizer, "categorical_crossentropy", metrics=list(metrics))
        return model

    return make


@pytest.fixture
def banknotes_model():
    """A factory of a logistic regression on the banknotes, compiled with `optimizer`."""

    def make(optimizer, seed=0, loss="binary_crossentropy"):
        set_random_seed(seed)
        model = Sequential([Dense(1, input_shape=(4,), activation="sigmoid")], seed=seed)
        model.compile(optimizer, loss, metrics=["accuracy"])
        return model

    return make
