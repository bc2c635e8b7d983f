"""Custom layers subclassing `Layer`, written for one model as in Keras (`build` /
`add_weight` / `call` on `(batch, ...)` tensors): they compute what their code says, take
Keras 3's `add_weight` arguments, and train inside fleets exactly as single runs
(`netfleet.layers.lifting` runs their `call` once per member)."""

import numpy as np
import pytest
import torch

from netfleet import fleet as fleet_module
from netfleet.layers import Activation, Dense, Dropout, Input, Layer
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD
from netfleet.utils import set_random_seed

RATES = [0.05, 0.2, 0.5]


class Linear(Layer):
    """The Keras guide's `Linear` layer, with torch operations."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return torch.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class RowNorm(Layer):
    """Written for (batch, features): normalises each row over axis 1 (the features), and
    scales by a learned vector; it changes no shape."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, inputs, training=None):
        centred = inputs - inputs.mean(dim=1, keepdim=True)
        return centred * self.scale


class Shapes(Layer):
    """Records the shapes its call sees."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 2))

    def call(self, inputs):
        self.seen.append((tuple(inputs.shape), tuple(self.w.shape)))
        return inputs @ self.w


def _data(rng, rows=48):
    x = rng.normal(size=(rows, 5)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.float32)
    return x, y


def _custom_model(learning_rate, seed=3):
    set_random_seed(seed)
    model = Sequential(
        [Input((5,)), Linear(6), Activation("relu"), RowNorm(), Dense(1, "sigmoid")], seed=seed
    )
    model.compile(optimizer=SGD(learning_rate=learning_rate), loss="binary_crossentropy")
    return model


# -- what the code says ------------------------------------------------------------------
def test_a_custom_layer_computes_its_call_on_one_models_batch(rng):
    layer = Linear(3)
    x = rng.normal(size=(4, 2)).astype(np.float32)
    out = layer(x)
    w, b = layer.get_weights()
    assert w.shape == (2, 3) and b.shape == (3,)
    np.testing.assert_allclose(out.numpy(), x @ w + b, rtol=1e-5, atol=1e-6)


def test_add_weight_returns_the_weight_that_the_attribute_keeps_reading(rng):
    model = _custom_model(0.1)
    linear = model.layers[0]
    assert linear.w is linear.variable and linear.b is linear.variable_1
    x, y = _data(rng)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    # packed into the model's flat buffer and trained: `self.w` follows
    assert linear.w is linear.variable
    np.testing.assert_array_equal(linear.w.detach().numpy()[0], model.get_weights()[0])


def test_the_user_call_sees_one_members_tensors_in_a_fleet(rng):
    layer = Shapes()
    model = Sequential([Input((3,)), layer])
    model.compile(optimizer=SGD(learning_rate=RATES), loss="mse")
    model.fit(rng.normal(size=(8, 3)), rng.normal(size=(8, 2)), batch_size=4, verbose=0)
    assert layer.seen[-1] == ((4, 3), (3, 2))
    predicted = model.predict(rng.normal(size=(5, 3)), verbose=0)
    assert predicted.shape == (3, 5, 2) and layer.seen[-1] == ((5, 3), (3, 2))


def test_each_member_applies_its_own_weights_to_a_shared_batch(rng):
    model = Sequential([Input((2,)), Linear(3)])
    model.compile(optimizer=SGD(learning_rate=RATES), loss="mse")
    members = [rng.normal(size=(2, 3)).astype(np.float32) for _ in RATES]
    model.set_weights([np.stack(members), np.zeros((3, 3), np.float32)])
    x = rng.normal(size=(4, 2)).astype(np.float32)
    out = model.predict(x, verbose=0)
    for m, kernel in enumerate(members):
        np.testing.assert_allclose(out[m], x @ kernel, rtol=1e-5, atol=1e-6)


def test_batch_axes_keep_their_meaning_for_the_user_code(rng, members):
    layer = RowNorm()
    layer.build((None, 4))
    x = torch.as_tensor(rng.normal(size=(members, 3, 4)).astype(np.float32))
    out = layer.call(x).detach()
    expected = x.numpy() - x.numpy().mean(axis=2, keepdims=True)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


# -- add_weight as Keras 3 takes it ---------------------------------------------------------
def test_add_weight_takes_keras_3_keywords_and_both_positional_orders():
    layer = Layer()
    scalar = layer.add_weight()
    keras3 = layer.add_weight(shape=(2, 3), initializer="ones", name="kernel")
    positional = layer.add_weight((4,), "zeros")
    name_first = layer.add_weight("bias", (3,), "ones")
    frozen = layer.add_weight(name="count", shape=(), initializer="zeros", trainable=False)
    assert layer.weight_names == ["variable", "kernel", "variable_1", "bias", "count"]
    assert scalar.shape == (1,) and keras3.shape == (1, 2, 3) and positional.shape == (1, 4)
    assert torch.equal(keras3, torch.ones(1, 2, 3)) and torch.equal(name_first, torch.ones(1, 3))
    assert layer.kernel is keras3 and frozen is layer.count
    assert [w is frozen for w in layer.non_trainable_weights] == [True]
    assert not frozen.requires_grad and keras3.requires_grad


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"shape": (2, None)}, "The 'shape' argument of Layer.add_weight must be a tuple"),
        ({"shape": (2,), "dtype": "int32"}, "The 'dtype' argument of Layer.add_weight"),
        ({"shape": (2,), "name": "taken"}, "The 'name' argument of Layer.add_weight"),
        ({"shape": (2,), "trainable": "yes"}, "The 'trainable' argument of Layer.add_weight"),
    ],
)
def test_bad_add_weight_arguments_are_named(kwargs, message):
    layer = Layer()
    layer.add_weight(shape=(1,), name="taken")
    with pytest.raises((TypeError, ValueError), match=message):
        layer.add_weight(**kwargs)


def test_a_non_trainable_weight_is_not_updated_by_training(rng):
    class Offset(Layer):
        def build(self, input_shape):
            self.offset = self.add_weight(shape=(1,), initializer="ones", trainable=False)

        def call(self, inputs):
            return inputs + self.offset

    model = Sequential([Input((5,)), Dense(1), Offset()])
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(rng)
    model.fit(x, y, batch_size=8, verbose=0)
    assert model.get_weights()[-1].tolist() == [1.0]


# -- shapes and modes ----------------------------------------------------------------------
def test_the_output_shape_comes_from_a_call_on_zeros_unless_the_layer_gives_it():
    class Total(Layer):
        def call(self, inputs):
            return inputs.sum(dim=-1, keepdim=True)

    class Declared(Total):
        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], 1)

    inputs = Input((4, 3))
    assert Total()(inputs).shape == (None, 4, 1)
    assert Declared()(inputs).shape == (None, 4, 1)
    assert Linear(7)(Input((2,))).shape == (None, 7)


def test_training_reaches_a_call_that_takes_it(rng):
    class Noise(Layer):
        def call(self, inputs, training=None):
            return inputs + 1.0 if training else inputs

    model = Sequential([Input((5,)), Noise(), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, _ = _data(rng)
    weights = model.get_weights()
    expected = x @ weights[0] + weights[1]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    noise = model.layers[0]
    assert noise(x, training=True).numpy() == pytest.approx(x + 1.0)


def test_user_randomness_differs_between_members():
    class Jitter(Layer):
        def call(self, inputs, training=None):
            return torch.nn.functional.dropout(inputs, 0.5, training=True)

    model = Sequential([Input((200,)), Dense(200, kernel_initializer="ones"), Jitter()])
    model.compile(optimizer=SGD(learning_rate=RATES), loss="mse")  # 3 identical members
    out = model.predict(np.ones((1, 200), np.float32), verbose=0)
    assert out.shape == (3, 1, 200) and not np.array_equal(out[0], out[1])
    assert set(np.unique(out)) == {0.0, 400.0}


def test_member_axis_marks_netfleets_layers_and_not_user_layers():
    class Batched(Layer):
        member_axis = True

        def call(self, inputs, training=False):
            return inputs.sum(dim=0, keepdim=True).expand_as(inputs)

    assert Dense.member_axis and Dropout.member_axis and Activation.member_axis
    assert not Linear.member_axis and not RowNorm.member_axis
    assert Batched.member_axis
    x = torch.arange(6.0).reshape(3, 1, 2)
    assert Batched().call(x)[0].tolist() == [[6.0, 9.0]]  # summed over the members


def test_a_subclass_of_a_custom_layer_can_call_its_parents_call(rng):
    class Doubled(Linear):
        def call(self, inputs):
            return 2 * super().call(inputs)

    layer = Doubled(2)
    model = Sequential([Input((3,)), layer])
    model.compile(optimizer=SGD(learning_rate=RATES), loss="mse")
    x = rng.normal(size=(4, 3)).astype(np.float32)
    w, b = (weight.detach().numpy() for weight in (layer.w, layer.b))
    out = model.predict(x, verbose=0)
    expected = np.broadcast_to(2 * (x @ w[0] + b[0]), out.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


# -- layers that hold layers ---------------------------------------------------------------
class Block(Layer):
    """A layer without weights of its own that composes built-in layers (Keras' MLPBlock)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = [Dense(4, activation="relu"), Dense(2)]

    def call(self, inputs):
        x = inputs
        for layer in self.inner:
            x = layer(x)
        return x


def test_a_layer_that_composes_layers_trains_them_in_a_functional_model(rng):
    block = Block()
    inputs = Input((5,))
    model = Model(inputs, Dense(1, activation="sigmoid")(block(inputs)))
    assert [layer.name for layer in model.layers[1:3]] == [block.name, block.inner[0].name]
    model.compile(optimizer=SGD(learning_rate=0.5), loss="binary_crossentropy")
    before = [w.copy() for w in block.inner[0].get_weights()]
    x, y = _data(rng)
    model.fit(x, y, batch_size=8, verbose=0)
    assert not np.allclose(block.inner[0].get_weights()[0], before[0])
    assert len(model.get_weights()) == 6


def test_a_layer_with_weights_that_also_holds_layers_is_refused():
    class Mixed(Linear):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Dense(2)

    with pytest.raises(ValueError, match=r"creates weights with add_weight and also holds"):
        Mixed()(np.ones((2, 3), np.float32))


# -- fleets equal single runs --------------------------------------------------------------
def test_a_fleet_with_custom_layers_equals_single_runs(rng):
    x, y = _data(rng)
    history = _custom_model(RATES).fit(x, y, batch_size=8, epochs=3, verbose=0)
    for m, rate in enumerate(RATES):
        own = _custom_model(rate).fit(x, y, batch_size=8, epochs=3, verbose=0)
        np.testing.assert_allclose(
            history.member(m).history["loss"], own.history["loss"], rtol=1e-5, atol=1e-7
        )


def test_stacked_models_with_custom_layers_equal_their_single_runs(rng):
    x, y = _data(rng)
    singles = [_custom_model(rate, seed=seed) for seed, rate in enumerate(RATES)]
    fleet = fleet_module.stack(singles)
    history = fleet.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for m, (seed, rate) in enumerate(zip(range(3), RATES)):
        own = _custom_model(rate, seed=seed).fit(x, y, batch_size=8, epochs=2, verbose=0)
        np.testing.assert_allclose(
            history.member(m).history["loss"], own.history["loss"], rtol=1e-5, atol=1e-7
        )


def test_a_layer_that_composes_layers_in_a_sequential_is_refused_before_training(rng):
    model = Sequential([Input((5,)), Block(), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"holds the layers .* which a Sequential does not"):
        model.fit(*_data(rng), verbose=0)


# -- configs and fleets -----------------------------------------------------------------
def test_a_layer_without_get_config_is_configured_by_its_arguments():
    class Sized(Layer):
        def __init__(self, units, scale=1.0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.scale = units, scale

        def call(self, inputs):
            return inputs[..., : self.units] * self.scale

    layer = Sized(2, scale=3.0, name="sized")
    assert layer.get_config() == {"units": 2, "scale": 3.0, "name": "sized", "trainable": True}
    copy = Sized.from_config(layer.get_config())
    assert (copy.units, copy.scale, copy.name) == (2, 3.0, "sized")
    assert Linear(5).get_config()["units"] == 5  # a layer's own get_config is kept


def test_a_call_that_reads_values_into_python_says_why_it_fails_in_a_fleet(rng):
    class Branches(Layer):
        def call(self, inputs):
            return inputs if inputs.sum().item() > 0 else -inputs

    model = Sequential([Input((5,)), Dense(2), Branches()])
    model.compile(optimizer=SGD(learning_rate=RATES), loss="mse")
    with pytest.raises(RuntimeError) as raised:
        model.fit(rng.normal(size=(8, 5)), rng.normal(size=(8, 2)), verbose=0)
    assert "once per member of a fleet of 3 with torch.func.vmap" in "".join(raised.value.__notes__)


def test_a_subclass_of_a_netfleet_layer_keeps_its_member_axis_and_its_own_call(rng):
    class Halved(Dense):
        def call(self, inputs):
            return super().call(inputs) * 0.5

    assert Halved.member_axis
    model = Sequential([Input((5,)), Halved(1, activation="sigmoid")])
    model.compile(optimizer=SGD(learning_rate=RATES), loss="binary_crossentropy")
    x, y = _data(rng)
    model.fit(x, y, batch_size=8, verbose=0)
    p = model.predict(x, verbose=0)[..., 0]
    assert p.shape == (3, 48) and p.max() <= 0.5
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=1)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), expected, rtol=1e-5)
