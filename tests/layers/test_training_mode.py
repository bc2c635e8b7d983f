"""`training=` as Keras users pass it: on a layer, on a model, and inside a subclassed
model's `call`."""

import numpy as np
import pytest
import torch

from netfleet.layers import BatchNormalization, Dense, Dropout
from netfleet.models import Model, Sequential
from netfleet.utils import set_random_seed


@pytest.fixture
def x():
    return np.random.default_rng(0).random((64, 4), dtype=np.float32)


def _dropout_network():
    model = Sequential([Dense(32, activation="relu", input_shape=(4,)), Dropout(0.5), Dense(1)])
    model.compile("adam", "mse")
    return model


def test_a_dropout_layer_called_with_training_true_drops_and_scales():
    torch.manual_seed(0)
    out = Dropout(0.25)(np.ones((200, 50), dtype=np.float32), training=True).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.75)
    np.testing.assert_array_equal(Dropout(0.25)(np.ones((3, 4), dtype=np.float32)).numpy(), 1.0)


def test_a_model_called_with_training_true_is_monte_carlo_dropout(x):
    model = _dropout_network()
    inference = model(x).numpy()
    np.testing.assert_array_equal(inference, model.predict(x, verbose=0))
    np.testing.assert_array_equal(model(x, training=False).numpy(), inference)
    samples = np.stack([model(x, training=True).numpy() for _ in range(200)])
    assert samples.shape == (200, 64, 1)
    assert not np.allclose(samples[0], samples[1])
    # dropout scales what it keeps: the hidden layer's mean is kept, so the mean of many
    # passes lies near the inference output, and each pass away from it
    assert np.abs(samples.mean(0) - inference).mean() < 0.5 * np.abs(samples[0] - inference).mean()


def test_batch_normalization_in_a_model_called_with_training_true_uses_the_batch(x):
    model = Sequential([BatchNormalization(input_shape=(4,))])
    model.compile("sgd", "mse")
    out = model(x * 10 + 3, training=True).numpy()
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1.0, rtol=1e-2)
    moving = model.layers[0].get_weights()[2]
    assert not np.allclose(moving, 0.0)  # Keras updates the moving statistics too


class _Switched(Model):
    """A subclassed model whose dropout is turned off explicitly, or absent."""

    def __init__(self, dropout):
        super().__init__()
        self.hidden = Dense(16, activation="relu")
        self.dropout = Dropout(0.9) if dropout else None
        self.out = Dense(1)

    def call(self, inputs, training=None):
        hidden = self.hidden(inputs)
        if self.dropout is not None:
            hidden = self.dropout(hidden, training=False)
        return self.out(hidden)


def test_training_false_inside_a_subclassed_models_call_turns_dropout_off_in_fit(x):
    y = x.sum(1, keepdims=True)
    results = []
    for dropout in (True, False):
        set_random_seed(3)
        model = _Switched(dropout)
        model.compile("adam", "mse")
        history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        results.append((history.history["loss"], model.get_weights()))
    (with_off, weights_off), (without, weights_without) = results
    assert with_off == without
    for a, b in zip(weights_off, weights_without, strict=True):
        np.testing.assert_array_equal(a, b)
