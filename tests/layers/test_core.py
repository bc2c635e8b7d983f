"""Tests for netfleet.layers.core (Input, Dense, Activation, Dropout, Flatten) and the
Layer behaviour they share from netfleet.layers.base."""

import numpy as np
import pytest
import torch

import netfleet.backend as K
from netfleet import activations
from netfleet.layers import Activation, Dense, Dropout, Flatten, Input, InputLayer, Layer
from netfleet.layers.symbolic import SymbolicTensor
from netfleet.models import Sequential
from netfleet.ops.context import ForwardContext, forward_context


def _dense(units=3, n_in=4, **kwargs):
    layer = Dense(units, **kwargs)
    layer.build((None, n_in))
    return layer


# -- Dense ---------------------------------------------------------------------------------
def test_dense_computes_activation_of_x_kernel_plus_bias(rng):
    layer = _dense(3, 4, activation="tanh")
    kernel, bias = rng.normal(size=(4, 3)), rng.normal(size=3)
    layer.set_weights([kernel, bias])
    x = rng.normal(size=(5, 4))
    np.testing.assert_allclose(layer(x).numpy(), np.tanh(x @ kernel + bias), rtol=1e-5, atol=1e-6)


def test_dense_weights_carry_the_member_axis_and_get_weights_drops_it_for_one_member():
    layer = _dense(3, 4)
    assert layer.kernel.shape == (1, 4, 3)
    assert layer.bias.shape == (1, 3)
    assert [w.shape for w in layer.get_weights()] == [(4, 3), (3,)]
    assert layer.weight_names == ["kernel", "bias"]
    assert layer.count_params() == 4 * 3 + 3


def test_dense_default_initializers_are_glorot_uniform_and_zeros():
    layer = _dense(50, 40)
    kernel, bias = layer.get_weights()
    limit = np.sqrt(6 / (40 + 50))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.9 * limit
    assert np.all(bias == 0)


def test_dense_without_bias_has_only_a_kernel(rng):
    layer = _dense(2, 3, use_bias=False)
    assert layer.weight_names == ["kernel"]
    kernel = rng.normal(size=(3, 2))
    layer.set_weights([kernel])
    x = rng.normal(size=(4, 3))
    np.testing.assert_allclose(layer(x).numpy(), x @ kernel, rtol=1e-5, atol=1e-6)


def test_dense_output_shape_replaces_the_last_axis():
    assert Dense(7).compute_output_shape((None, 3, 5)) == (None, 3, 7)
    out = Dense(7)(Input(shape=(5,)))
    assert isinstance(out, SymbolicTensor) and out.shape == (None, 7)


@pytest.mark.parametrize("units", [0, -1, 2.0, "8", True])
def test_dense_rejects_units_that_are_not_positive_integers(units):
    with pytest.raises(ValueError, match="'units' argument of Dense"):
        Dense(units)


def test_dense_rejects_unknown_keyword_arguments():
    with pytest.raises(TypeError, match="unexpected keyword arguments: \\['kernel_size'\\]"):
        Dense(3, kernel_size=2)


@pytest.mark.parametrize(
    "kwargs", [{"input_shape": (6,)}, {"input_dim": 6}, {"batch_input_shape": (None, 6)}]
)
def test_the_input_shape_can_be_given_three_keras_ways(kwargs):
    assert Dense(2, **kwargs).input_shape_hint == (6,)


def test_dense_get_config_round_trips():
    layer = Dense(
        4, activation="relu", use_bias=False, kernel_initializer="he_normal", input_shape=(3,)
    )
    config = layer.get_config()
    assert config["units"] == 4 and config["activation"] == "relu"
    assert config["kernel_initializer"]["class_name"] == "HeNormal"
    clone = Dense.from_config(config)
    assert clone.get_config() == config
    assert clone.activation is activations.relu


# -- weights -------------------------------------------------------------------------------
def test_set_weights_broadcasts_one_member_to_every_member(members, rng):
    layer = _dense(3, 4)
    layer.kernel = layer.kernel.detach().expand(members, 4, 3).clone()
    layer.bias = layer.bias.detach().expand(members, 3).clone()
    kernel, bias = rng.normal(size=(4, 3)), rng.normal(size=3)
    layer.set_weights([kernel, bias])
    got = layer.get_weights()
    expected_kernel = np.broadcast_to(kernel, (members, 4, 3)) if members > 1 else kernel
    np.testing.assert_allclose(got[0], expected_kernel, rtol=1e-6)
    assert got[1].shape == ((members, 3) if members > 1 else (3,))


def test_set_weights_takes_one_array_per_member_for_a_fleet(rng):
    layer = _dense(3, 4)
    layer.kernel = layer.kernel.detach().expand(2, 4, 3).clone()
    layer.bias = layer.bias.detach().expand(2, 3).clone()
    kernels = rng.normal(size=(2, 4, 3))
    layer.set_weights([kernels, np.zeros((2, 3))])
    np.testing.assert_allclose(layer.get_weights()[0], kernels, rtol=1e-6)
    x = rng.normal(size=(5, 4))
    out = layer(x).numpy()
    assert out.shape == (2, 5, 3)
    np.testing.assert_allclose(out[1], x @ kernels[1], rtol=1e-5, atol=1e-6)


def test_set_weights_rejects_wrong_shapes_and_counts():
    layer = _dense(3, 4)
    with pytest.raises(ValueError, match=r"Weight 'kernel' of layer .* has shape \(4, 3\)"):
        layer.set_weights([np.zeros((3, 4)), np.zeros(3)])
    with pytest.raises(ValueError, match="expects 2 weight arrays"):
        layer.set_weights([np.zeros((4, 3))])


def test_non_trainable_layer_has_no_trainable_weights():
    layer = _dense(2, 3, trainable=False)
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 2
    assert not layer.kernel.requires_grad


# -- Activation ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["relu", "softmax", "sigmoid", "linear"])
def test_activation_layer_applies_the_named_function(name, rng):
    x = torch.tensor(rng.normal(size=(4, 5)), dtype=torch.float32)
    out = Activation(name)(x)
    torch.testing.assert_close(out, activations.get(name)(x))
    assert Activation(name).count_params() == 0


def test_activation_layer_keeps_the_shape_and_serializes_its_name():
    layer = Activation("tanh")
    assert layer.compute_output_shape((None, 3)) == (None, 3)
    assert layer.get_config()["activation"] == "tanh"


# -- Dropout -------------------------------------------------------------------------------
def test_dropout_is_the_identity_at_inference(rng):
    x = rng.normal(size=(10, 8)).astype(np.float32)
    np.testing.assert_array_equal(Dropout(0.5)(x).numpy(), x)


def test_dropout_in_training_zeroes_about_rate_and_scales_the_rest():
    layer = Dropout(0.25)
    x = torch.ones(1, 200, 50)
    generators = [torch.Generator().manual_seed(0)]
    with forward_context(ForwardContext(True, generators)):
        out = layer.call(x, training=True)
    kept = out != 0
    assert abs(kept.float().mean().item() - 0.75) < 0.02
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / 0.75))


def test_dropout_members_draw_their_own_masks():
    layer = Dropout(0.5)
    generators = [torch.Generator().manual_seed(s) for s in (1, 2)]
    with forward_context(ForwardContext(True, generators)):
        out = layer.call(torch.ones(2, 30, 20), training=True)
    assert out.shape == (2, 30, 20)
    assert not torch.equal(out[0], out[1])


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.5"])
def test_dropout_rejects_rates_outside_0_1(rate):
    with pytest.raises(ValueError, match="'rate' argument of Dropout"):
        Dropout(rate)


# -- Flatten, Input --------------------------------------------------------------------------
def test_flatten_folds_each_example_to_one_axis(rng):
    x = rng.normal(size=(3, 4, 5))
    out = Flatten()(x)
    np.testing.assert_allclose(out.numpy(), x.reshape(3, 20), rtol=1e-6)
    assert Flatten()(Input(shape=(28, 28))).shape == (None, 784)


def test_input_returns_a_symbolic_tensor_of_its_layer():
    inp = Input(shape=(4,), name="features")
    assert isinstance(inp, SymbolicTensor)
    assert inp.shape == (None, 4)
    layer = inp.node.layer
    assert isinstance(layer, InputLayer) and layer.name == "features"
    assert layer.input is inp and layer.output is inp


def test_input_requires_a_valid_shape():
    with pytest.raises(ValueError, match="'shape' argument of Input"):
        Input()
    with pytest.raises(ValueError, match="'shape' argument of Input"):
        Input(shape=(0, 3))


# -- graph connections, names ----------------------------------------------------------------
def test_layer_input_and_output_are_the_symbolic_tensors_of_its_call():
    inp = Input(shape=(4,))
    layer = Dense(2)
    out = layer(inp)
    assert layer.input is inp
    assert layer.output is out
    assert layer.output_shape == (None, 2)


def test_layer_input_before_any_call_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no input yet"):
        _ = Dense(2).input


def test_layers_in_a_sequential_model_with_input_shape_are_connected():
    model = Sequential([Dense(3, input_shape=(4,)), Dense(1)])
    assert model.layers[0].input.shape == (None, 4)
    assert model.layers[1].input is model.layers[0].output
    assert model.layers[1].output.shape == (None, 1)


def test_automatic_names_count_up_per_class_and_reset_with_clear_session():
    K.clear_session()
    names = [Dense(1).name, Dense(1).name, Activation("relu").name, Dense(1).name]
    assert names == ["dense", "dense_1", "activation", "dense_2"]
    K.clear_session()
    assert Dense(1).name == "dense"
    assert Dense(1, name="output").name == "output"


def test_a_custom_layer_only_writes_build_and_call(rng):
    class Scale(Layer):
        def build(self, input_shape):
            self.add_weight("factor", (input_shape[-1],), "ones")

        def call(self, inputs, training=False):
            return inputs * self.factor

    model = Sequential([Dense(3, input_shape=(2,)), Scale()])
    scale = model.layers[1]
    assert scale.name.startswith("scale") and scale.count_params() == 3
    x = rng.normal(size=(4, 2))
    np.testing.assert_allclose(
        model.predict(x, verbose=0), model.layers[0](x).numpy(), rtol=1e-6, atol=1e-7
    )
