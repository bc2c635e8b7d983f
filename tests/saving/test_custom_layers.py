"""Model files with layers of the user's own, as Keras saves and loads them: named by class,
rebuilt from `get_config`, found through `custom_objects`, `custom_object_scope` or
`register_keras_serializable`, never through an importable path."""

import numpy as np
import pytest
import torch

from netfleet import registry
from netfleet.errors import InvalidArgumentError, InvalidTypeError, ModelFileError
from netfleet.layers import Dense, Layer
from netfleet.models import Sequential
from netfleet.saving import (
    custom_object_scope,
    load_model,
    register_keras_serializable,
    save_model,
)
from netfleet.utils import set_random_seed


class Linear(Layer):
    """The Keras guide's `Linear` layer: weights of its own, its units in its config."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return torch.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Scaling(Layer):
    """Takes an argument and writes no get_config (Keras 3's automatic config)."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor


@pytest.fixture
def x():
    return np.random.default_rng(0).random((16, 3), dtype=np.float32)


@pytest.fixture
def saved(tmp_path, x):
    set_random_seed(0)
    model = Sequential([Dense(5, input_shape=(3,)), Linear(2)])
    model.compile("adam", "mse")
    model.fit(x, x[:, :2], epochs=2, verbose=0)
    path = tmp_path / "custom.netfleet"
    save_model(model, path)
    return model, path


def test_a_file_naming_an_unknown_layer_class_says_how_to_give_it(saved):
    _, path = saved
    with pytest.raises(
        ModelFileError, match=r"'Linear'.*custom_objects.*register_keras_serializable"
    ):
        load_model(path)


def test_custom_objects_rebuild_the_layer_with_its_weights_and_training_state(saved, x):
    model, path = saved
    loaded = load_model(path, custom_objects={"Linear": Linear})
    assert isinstance(loaded.layers[1], Linear) and loaded.layers[1].units == 2
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.fit(x, x[:, :2], epochs=1, verbose=0)
    loaded.fit(x, x[:, :2], epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_custom_object_scope_lasts_for_its_block(saved, x):
    model, path = saved
    with custom_object_scope({"Linear": Linear}):
        loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert "Linear" not in registry.entries("layer")
    with pytest.raises(ModelFileError, match="custom_objects"):
        load_model(path)


def test_a_registered_layer_loads_without_custom_objects(tmp_path, x):
    @register_keras_serializable(package="Tests")
    class Doubling(Layer):
        def call(self, inputs):
            return inputs * 2

    try:
        model = Sequential([Dense(2, input_shape=(3,)), Doubling()])
        model.compile("sgd", "mse")
        save_model(model, tmp_path / "m.netfleet")
        loaded = load_model(tmp_path / "m.netfleet")
        assert type(loaded.layers[1]) is Doubling
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    finally:
        registry._TABLES["layer"].pop("Doubling")


def test_a_layer_without_get_config_is_rebuilt_from_the_arguments_it_was_made_with(tmp_path, x):
    model = Sequential([Dense(2, input_shape=(3,)), Scaling(3.0)])
    model.compile("sgd", "mse")
    save_model(model, tmp_path / "m.netfleet")
    loaded = load_model(tmp_path / "m.netfleet", custom_objects={"Scaling": Scaling})
    assert loaded.layers[1].factor == 3.0
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_only_layer_classes_can_be_custom_objects(saved):
    _, path = saved
    with pytest.raises(InvalidTypeError, match="custom Layer subclasses only"):
        load_model(path, custom_objects={"my_loss": lambda y, p: (y - p) ** 2})
    with pytest.raises(InvalidTypeError, match="custom Layer subclasses only"):
        register_keras_serializable()(lambda y, p: y)
    with pytest.raises(ValueError, match="Two layers are registered as 'Dense'"):
        register_keras_serializable()(type("Dense", (Layer,), {}))


def test_load_model_takes_keras_arguments_in_keras_order(saved):
    _, path = saved
    assert load_model(path, {"Linear": Linear}, False).compiled is None
    assert load_model(path, custom_objects={"Linear": Linear}, safe_mode=False).compiled
    with pytest.raises(InvalidArgumentError, match="'compile' argument of load_model"):
        load_model(path, {"Linear": Linear}, "yes")
