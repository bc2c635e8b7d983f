"""keras-io examples run with only their imports changed to netfleet's.

The example is keras-io's "Simple MNIST convnet" (examples/vision/mnist_convnet.py), as its
code reads, with `import netfleet as keras` and `from netfleet import layers`; the issue
trains it for 2 epochs (keras-io: 15) and asks for at least 0.98 test accuracy.
"""

import numpy as np
import pytest
import torch

import netfleet as keras
from netfleet import layers
from netfleet.optimizers import Adam

NUM_CLASSES = 10
INPUT_SHAPE = (28, 28, 1)


def mnist_convnet():
    """The example's model, as keras-io writes it."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )


def prepared_mnist():
    """The example's data preparation: [0, 1] pixels, a channel axis, one-hot labels."""
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    x_train = np.expand_dims(x_train, -1)
    x_test = np.expand_dims(x_test, -1)
    y_train = keras.utils.to_categorical(y_train, NUM_CLASSES)
    y_test = keras.utils.to_categorical(y_test, NUM_CLASSES)
    return (x_train, y_train), (x_test, y_test)


@pytest.fixture
def one_thread():
    """One intra-op thread: the run's arithmetic, and so its accuracy, is then the same on
    every run of this CPU (more threads split the sums differently)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_mnist_convnet_reaches_098_test_accuracy_in_two_epochs(shared_data, one_thread):
    keras.utils.set_random_seed(1)
    (x_train, y_train), (x_test, y_test) = prepared_mnist()
    model = mnist_convnet()
    model.summary(print_fn=lambda line: None)
    batch_size = 128
    epochs = 2
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=0
    )
    score = model.evaluate(x_test, y_test, verbose=0)
    assert history.epoch == [0, 1]
    assert history.history["val_accuracy"][-1] >= 0.98
    assert score[1] >= 0.98, f"test accuracy {score[1]:.4f}"


LEARNING_RATES = [3e-4, 1e-3, 2e-3, 4e-3]


def test_a_learning_rate_fleet_of_the_convnet_equals_its_single_runs(shared_data):
    (x_train, y_train), _ = prepared_mnist()
    x, y = x_train[:640], y_train[:640]

    def trained(optimizer):
        keras.utils.set_random_seed(2)  # the same initial weights and seed for every run
        model = mnist_convnet()
        model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
        history = model.fit(x, y, batch_size=128, epochs=2, validation_split=0.1, verbose=0)
        return model, history

    fleet, fleet_history = trained(Adam(learning_rate=LEARNING_RATES))
    weights = fleet.get_weights()
    assert weights[0].shape == (4, 3, 3, 1, 32)
    for member, rate in enumerate(LEARNING_RATES):
        single, history = trained(Adam(learning_rate=rate))
        for key, values in history.history.items():
            np.testing.assert_allclose(
                fleet_history.member(member).history[key], values, rtol=1e-4, atol=1e-5
            )
        for mine, theirs in zip(weights, single.get_weights()):
            np.testing.assert_allclose(mine[member], theirs, rtol=1e-4, atol=1e-5)
