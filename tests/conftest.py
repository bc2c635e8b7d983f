"""Fixtures shared by the core tests: the course's data sets, prepared as the course does,
and a `members` fixture that runs behavioural tests for a single model and a fleet."""

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def netfleet_data():
    """Point `NETFLEET_DATA` at the shared data folder for the whole session."""
    with pytest.MonkeyPatch.context() as patch:
        if SHARED_DATA.is_dir():
            patch.setenv("NETFLEET_DATA", str(SHARED_DATA))
        yield os.environ.get("NETFLEET_DATA")


@pytest.fixture(scope="session")
def shared_data():
    """The `shared/data` folder beside the repository root (skips when it is absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared data folder is absent: {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def banknotes_split():
    """The notebook's banknotes split: features scaled, 30 % test, random_state=42.

    Returns:
        `(X_train, X_test, y_train, y_test)`: (960, 4), (412, 4), (960,), (412,).
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import scale

    from netfleet.datasets import banknotes

    df = banknotes.load_frame()
    X = scale(df.drop("class", axis=1).values)
    y = df["class"].values
    return train_test_split(X, y, test_size=0.3, random_state=42)


@pytest.fixture(scope="session")
def wines():
    """The wines exercise's data: `(X, y)`, X scaled (178, 13), y one-hot (178, 3)."""
    from sklearn.preprocessing import scale

    from netfleet.datasets import wines as wines_module
    from netfleet.utils import to_categorical

    df = wines_module.load_frame()
    X = scale(df.drop("Class", axis=1).values)
    y = to_categorical(df["Class"].values - 1, 3)
    return X, y


def _keras3():
    """Keras 3 on TensorFlow, or a skipped test where it is not installed."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("Keras 3 on TensorFlow is needed")
    return keras


@pytest.fixture(scope="session")
def keras3():
    """The loader of Keras 3 (a reference for Keras' numbers): call it where the test needs
    Keras, so that the checks before it run even where Keras is not installed."""
    return _keras3


@pytest.fixture(params=[1, 3], ids=["M1", "M3"])
def members(request):
    """The number of members M of a model under test: a single model and a fleet of 3."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_configure(config):
    # netfleet silences this at import (engine/parameters.py: the flat gradient buffer's views
    # are meant to have that layout); pytest resets warning filters for each test.
    config.addinivalue_line(
        "filterwarnings", "ignore:grad and param do not obey the gradient layout:UserWarning"
    )
