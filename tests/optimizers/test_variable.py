"""`optimizer.learning_rate` as Keras gives it: a live handle that reads, compares, computes
and assigns, per member in a fleet, and `model.optimizer` that exposes it."""

import numpy as np
import pytest
import torch

from netfleet.errors import InvalidTypeError
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.optimizers import SGD, Adam, MixedOptimizer
from netfleet.utils import set_random_seed


def test_the_learning_rate_reads_as_its_value():
    learning_rate = Adam(learning_rate=0.01).learning_rate
    assert learning_rate == 0.01
    assert float(learning_rate) == 0.01
    assert repr(learning_rate) == "0.01"
    assert learning_rate.numpy() == 0.01
    assert learning_rate * 10 == pytest.approx(0.1)
    assert 1 - learning_rate == pytest.approx(0.99)
    assert learning_rate < 0.1


def test_a_fleet_reads_one_value_per_member():
    optimizer = SGD(learning_rate=[0.1, 0.2], momentum=[0.0, 0.9])
    assert optimizer.learning_rate == [0.1, 0.1, 0.2, 0.2]
    np.testing.assert_array_equal(optimizer.learning_rate.numpy(), [0.1, 0.1, 0.2, 0.2])
    np.testing.assert_array_equal(np.asarray(optimizer.learning_rate), [0.1, 0.1, 0.2, 0.2])
    with pytest.raises(InvalidTypeError, match="read them with learning_rate.numpy"):
        float(optimizer.learning_rate)
    assert SGD(learning_rate=0.3, momentum=[0.0, 0.9]).learning_rate == 0.3


@pytest.mark.parametrize(
    "value", [[0.5, 0.25], np.array([0.5, 0.25]), torch.tensor([0.5, 0.25], dtype=torch.float64)]
)
def test_assign_sets_each_member_and_reaches_the_built_tensors(value):
    optimizer = SGD(learning_rate=[0.1, 0.2])
    optimizer.build(torch.zeros(2, 3))
    optimizer.learning_rate.assign(value)
    assert optimizer.learning_rate == [0.5, 0.25]
    assert optimizer.h["learning_rate"].flatten().tolist() == [0.5, 0.25]
    optimizer.lr = 0.05
    assert optimizer.learning_rate == 0.05
    assert optimizer.h["learning_rate"].flatten().tolist() == pytest.approx([0.05, 0.05])


def test_a_mixed_optimizer_reads_and_sets_each_member():
    mixed = MixedOptimizer([(SGD(learning_rate=[0.1, 0.5]), 2), (Adam(), 1)])
    assert mixed.learning_rate == [0.1, 0.5, 0.001]
    mixed.learning_rate.assign([0.2, 0.3, 0.004])
    np.testing.assert_allclose(mixed.learning_rate.numpy(), [0.2, 0.3, 0.004])


def test_model_optimizer_is_the_compiled_optimizer_with_a_settable_learning_rate():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))

    def model(learning_rate):
        set_random_seed(0)
        built = Sequential([Dense(2, input_shape=(3,), activation="tanh"), Dense(1)], seed=0)
        assert built.optimizer is None
        built.compile(SGD(learning_rate=learning_rate), "mse")
        return built

    changed = model(0.5)
    assert changed.optimizer is changed.compiled.optimizer
    changed.optimizer.learning_rate = 0.05
    assert changed.optimizer.learning_rate == 0.05
    history = changed.fit(x, y, epochs=2, verbose=0)
    expected = model(0.05).fit(x, y, epochs=2, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-6)
