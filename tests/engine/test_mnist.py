"""The lecture's MNIST network trained as the course trains it (slow: 10 epochs on 60,000
images). Reads MNIST from NETFLEET_DATA, which the conftest points at the shared data."""

import os
from pathlib import Path

import numpy as np
import pytest

import netfleet.backend as K
from netfleet.datasets import mnist
from netfleet.layers import Activation, Dense
from netfleet.models import Sequential
from netfleet.utils import set_random_seed, to_categorical

FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


@pytest.fixture(scope="module")
def mnist_data():
    root = Path(os.environ.get("NETFLEET_DATA", "/nonexistent"))
    if not any(all((folder / f).is_file() for f in FILES) for folder in (root, root / "mnist")):
        pytest.skip("no local MNIST copy under NETFLEET_DATA")
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train = x_train.reshape(60000, 784).astype("float32") / 255
    x_test = x_test.reshape(10000, 784).astype("float32") / 255
    return x_train, to_categorical(y_train, 10), x_test, to_categorical(y_test, 10)


@pytest.mark.slow
def test_lecture_network_reaches_95_percent_on_mnist(mnist_data):
    x_train, y_train, x_test, y_test = mnist_data
    K.clear_session()
    set_random_seed(0)
    model = Sequential(
        [Dense(32, input_shape=(784,)), Activation("relu"), Dense(10), Activation("softmax")]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=128, epochs=10, verbose=0, validation_split=0.1
    )
    assert history.params["steps"] == 422  # 54,000 training images in batches of 128
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert history.history["val_accuracy"][-1] >= 0.95
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95
    predicted = model.predict(x_test, verbose=0).argmax(1)
    np.testing.assert_allclose(accuracy, (predicted == y_test.argmax(1)).mean(), atol=1e-6)
