"""Data of the scikit-learn tests: the course's data sets, scaled, as arrays."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.preprocessing import scale

from netfleet.datasets import banknotes, mnist, wines

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def wine_data():
    """Wines: X scaled (178, 13), y the classes 1, 2, 3."""
    X, y = wines.load_data()
    return scale(X), y


@pytest.fixture(scope="session")
def banknote_data():
    """Banknotes: X scaled (1372, 4), y 0 (genuine) or 1 (forged)."""
    X, y = banknotes.load_data()
    return scale(X), y


@pytest.fixture(scope="session")
def mnist_subset():
    """The first 3,000 MNIST training images as the lecture prepares them: X (3000, 784)
    in [0, 1], y the digits."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared data folder is absent: {SHARED_DATA}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NETFLEET_DATA", str(SHARED_DATA))
        (X, y), _ = mnist.load_data()
    return X[:3000].reshape(3000, 784).astype(np.float32) / 255, y[:3000]
