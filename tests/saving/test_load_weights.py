"""load_weights into a freshly built model of the same architecture: weights are matched by
name when every name agrees, else by structure (layer order and weight shapes), as Keras
does; a structure that differs is refused, naming the layer and the shapes."""

import numpy as np
import pytest
import safetensors.torch
import torch

import netfleet as nf
from netfleet import layers
from netfleet.errors import ModelFileError
from netfleet.optimizers import SGD
from netfleet.saving import files


@pytest.fixture(autouse=True)
def _fresh_session():
    nf.utils.set_random_seed(3)
    nf.backend.clear_session()


def small_cnn(filters=4):
    """A convolutional classifier with BatchNormalization (non-trainable moving statistics)."""
    return nf.Sequential(
        [
            layers.Conv2D(filters, 3, activation="relu", input_shape=(8, 8, 2)),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def two_inputs():
    """A functional model of two inputs joined by `concatenate`."""
    wide, deep = nf.Input(shape=(5,)), nf.Input(shape=(3,))
    hidden = layers.Dense(4, activation="relu")(deep)
    joined = layers.concatenate([wide, hidden])
    return nf.Model([wide, deep], layers.Dense(1)(joined))


def trained_cnn():
    """`small_cnn` after one epoch, so that every weight (moving statistics too) moved."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 2)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model = small_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    return model, x


def assert_same_predictions(model, other, x):
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def names(model):
    return [layer.name for layer in model.layers]


def test_a_fresh_model_with_other_generated_names_loads_weights_by_structure(tmp_path):
    model, x = trained_cnn()
    model.save_weights(tmp_path / "cnn.weights.safetensors")
    fresh = small_cnn()
    assert not set(names(fresh)) & set(names(model))
    fresh.load_weights(tmp_path / "cnn.weights.safetensors")
    assert_same_predictions(model, fresh, x)
    for mine, theirs in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_a_model_file_loads_into_a_fresh_model_by_structure(tmp_path):
    model, x = trained_cnn()
    model.save(tmp_path / "cnn.keras")
    fresh = small_cnn()
    fresh.load_weights(tmp_path / "cnn.keras")
    assert_same_predictions(model, fresh, x)


def test_a_functional_model_of_two_inputs_loads_by_structure(tmp_path):
    model = two_inputs()
    model.save_weights(tmp_path / "w.safetensors")
    fresh = two_inputs()
    assert names(fresh) != names(model)
    fresh.load_weights(tmp_path / "w.safetensors")
    x = [np.ones((4, 5), np.float32), np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)]
    assert_same_predictions(model, fresh, x)


def test_names_decide_when_they_all_match_even_against_the_layer_order(tmp_path):
    def build(first, second):
        return nf.Sequential(
            [layers.Dense(3, input_shape=(3,), name=first), layers.Dense(3, name=second)]
        )

    saved = build("a", "b")
    saved.save_weights(tmp_path / "w.safetensors")
    swapped = build("b", "a")  # same names, other order: by structure "b" would get "a"'s
    swapped.load_weights(tmp_path / "w.safetensors")
    for name in ("a", "b"):
        for mine, theirs in zip(
            swapped.get_layer(name).get_weights(), saved.get_layer(name).get_weights()
        ):
            np.testing.assert_array_equal(mine, theirs)


def test_a_one_member_file_fills_a_fresh_fleet_by_structure(tmp_path):
    model, x = trained_cnn()
    model.save_weights(tmp_path / "w.safetensors")
    fleet = small_cnn()
    fleet.compile(optimizer=SGD(learning_rate=[0.1, 0.01]), loss="sparse_categorical_crossentropy")
    fleet.load_weights(tmp_path / "w.safetensors")
    predictions = fleet.predict(x, verbose=0)
    single = model.predict(x, verbose=0)
    for member in predictions:
        np.testing.assert_allclose(member, single, rtol=1e-6, atol=1e-7)


def test_a_different_structure_is_refused_naming_the_layer_and_the_shapes(tmp_path):
    model, _ = trained_cnn()
    model.save_weights(tmp_path / "w.safetensors")
    wider = small_cnn(filters=6)
    with pytest.raises(ModelFileError) as raised:
        wider.load_weights(tmp_path / "w.safetensors")
    message = str(raised.value)
    assert "w.safetensors" in message
    assert "by structure" in message
    assert f"layer 1 with weights (model '{wider.layers[0].name}', file 'conv2d')" in message
    assert "(1, 3, 3, 2, 4)" in message and "(1, 3, 3, 2, 6)" in message


def test_a_model_with_another_number_of_layers_is_refused(tmp_path):
    model, _ = trained_cnn()
    model.save_weights(tmp_path / "w.safetensors")
    shorter = nf.Sequential(
        [layers.Conv2D(4, 3, input_shape=(8, 8, 2)), layers.Flatten(), layers.Dense(3)]
    )
    with pytest.raises(
        ModelFileError, match="the file holds the weights of 3 layers, the model of 2"
    ):
        shorter.load_weights(tmp_path / "w.safetensors")


def test_a_layer_of_another_class_is_refused(tmp_path):
    saved = nf.Sequential([layers.Dense(4, input_shape=(4,)), layers.LayerNormalization()])
    saved.save_weights(tmp_path / "w.safetensors")
    other = nf.Sequential([layers.Dense(4, input_shape=(4,)), layers.Dense(4)])
    with pytest.raises(ModelFileError, match="is a Dense with kernel, bias in the model, a "):
        other.load_weights(tmp_path / "w.safetensors")


def test_a_file_without_its_layer_order_can_only_match_by_name(tmp_path):
    model, _ = trained_cnn()
    tensors = files.state.weight_tensors(model)
    safetensors.torch.save_file(tensors, tmp_path / "old.safetensors")  # no layer order
    with pytest.raises(ModelFileError, match="does not record the order of its layers"):
        small_cnn().load_weights(tmp_path / "old.safetensors")


@pytest.mark.parametrize(
    "order",
    ['{"dense": "Dense"}', "[[1, 2]]", "[", '[["conv2d", "Conv2D"]]'],
    ids=["not a list", "not names", "not JSON", "layers missing"],
)
def test_a_damaged_layer_order_is_refused(tmp_path, order):
    model, _ = trained_cnn()
    metadata = {files.LAYERS_METADATA: order}
    tensors = files.state.weight_tensors(model)
    safetensors.torch.save_file(tensors, tmp_path / "bad.safetensors", metadata=metadata)
    with pytest.raises(ModelFileError, match="bad.safetensors"):
        small_cnn().load_weights(tmp_path / "bad.safetensors")


def test_the_weights_file_records_the_layer_order(tmp_path):
    model, _ = trained_cnn()
    model.save_weights(tmp_path / "w.safetensors")
    with safetensors.safe_open(tmp_path / "w.safetensors", "pt") as file:
        metadata = file.metadata()
    assert metadata[files.LAYERS_METADATA] == (
        '[["conv2d", "Conv2D"], ["batch_normalization", "BatchNormalization"], '
        '["max_pooling2d", "MaxPooling2D"], ["flatten", "Flatten"], ["dense", "Dense"]]'
    )
    assert torch.equal(
        safetensors.torch.load_file(tmp_path / "w.safetensors")["conv2d/kernel"],
        model.layers[0].kernel.detach(),
    )
