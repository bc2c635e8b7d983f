"""netfleet.backend: Keras 2's `get_value` / `set_value` on an optimizer's learning rate
(one model and fleets) and on tensors."""

import numpy as np
import pytest
import torch

from netfleet import backend
from netfleet.errors import InvalidTypeError
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.optimizers import SGD


def compiled(learning_rate):
    model = Sequential([Dense(1, input_shape=(2,))], seed=0)
    model.compile(SGD(learning_rate=learning_rate), "mse")
    return model


def test_get_value_and_set_value_read_and_change_a_model_learning_rate():
    model = compiled(0.1)
    assert backend.get_value(model.optimizer.learning_rate) == pytest.approx(0.1)
    backend.set_value(model.optimizer.lr, 0.01)  # Keras 2's spelling of the attribute
    assert backend.get_value(model.optimizer.learning_rate) == pytest.approx(0.01)
    rate = backend.get_value(model.optimizer.learning_rate)
    backend.set_value(model.optimizer.learning_rate, rate * 0.5)
    assert model.optimizer.learning_rate == pytest.approx(0.005)


def test_a_fleet_gets_and_sets_one_value_per_member():
    model = compiled([0.1, 0.2, 0.3])
    np.testing.assert_allclose(backend.get_value(model.optimizer.learning_rate), [0.1, 0.2, 0.3])
    backend.set_value(model.optimizer.learning_rate, np.array([0.3, 0.2, 0.1]))
    assert model.optimizer.learning_rate == [0.3, 0.2, 0.1]
    backend.set_value(model.optimizer.learning_rate, 0.05)
    assert model.optimizer.learning_rate == 0.05


def test_get_value_and_set_value_work_on_tensors_and_refuse_plain_numbers():
    tensor = torch.zeros(2, requires_grad=True)
    backend.set_value(tensor, [1.0, 2.0])
    np.testing.assert_array_equal(backend.get_value(tensor), [1.0, 2.0])
    assert backend.get_value(3.0) == 3.0
    with pytest.raises(InvalidTypeError, match="changes a variable in place"):
        backend.set_value(0.1, 0.01)
