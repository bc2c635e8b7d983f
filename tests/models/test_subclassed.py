"""Subclassed models, as in Keras: layers made in `__init__` (attributes, also in lists),
`call(inputs, training=None)`, built on the first data seen; they train, evaluate, predict,
summarise and save their weights like the other models, and as fleets equal single runs."""

import numpy as np
import pytest
import torch

import netfleet as nf
from netfleet import fleet as fleet_module
from netfleet.layers import Dense, Dropout, Input
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD
from netfleet.utils import set_random_seed

RATES = [0.05, 0.2, 0.5]


class MLP(nf.Model):
    """The Keras guide's shape of a subclassed model: layers in __init__, a list of them,
    and an elementwise torch operation in call."""

    def __init__(self, hidden=8, **kwargs):
        super().__init__(**kwargs)
        self.first = Dense(hidden, activation="relu")
        self.blocks = [Dense(hidden, activation="relu"), Dense(hidden)]
        self.head = Dense(1, activation="sigmoid")

    def call(self, inputs, training=None):
        x = self.first(inputs)
        for block in self.blocks:
            x = block(x)
        return self.head(torch.tanh(x))


def _data(rng, rows=48):
    x = rng.normal(size=(rows, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 2] > 0).astype(np.float32)
    return x, y


def _mlp(learning_rate, seed=3):
    set_random_seed(seed)
    model = MLP(seed=seed)
    model.compile(
        optimizer=SGD(learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _functional_twin(model):
    """The same network as a functional model with `model`'s weights: the oracle."""
    inputs = Input((5,))
    x = inputs
    for width, activation in ((8, "relu"), (8, "relu"), (8, None)):
        x = Dense(width, activation=activation)(x)
    x = nf.layers.Activation("tanh")(x)
    twin = Model(inputs, Dense(1, activation="sigmoid")(x), seed=model.seed)
    twin.compile(optimizer=SGD(learning_rate=0.2), loss="binary_crossentropy", metrics=["accuracy"])
    twin.set_weights(model.get_weights())
    return twin


# -- layers and building -------------------------------------------------------------------
def test_layers_assigned_in_init_are_tracked_in_order_also_in_lists():
    model = MLP()
    assert model.layers == [model.first, *model.blocks, model.head]
    assert not model.built and model.name.startswith("mlp")


def test_the_model_builds_on_the_first_data_it_sees(rng):
    model = _mlp(0.2)
    x, _ = _data(rng)
    assert not model.built
    out = model.predict(x, verbose=0)
    assert model.built and out.shape == (48, 1)
    assert model.input_shape == (None, 5) and model.output_shape == (None, 1)
    assert model.count_params() == 5 * 8 + 8 + 2 * (8 * 8 + 8) + 9


def test_build_with_an_input_shape_builds_before_any_data():
    model = MLP()
    model.build((None, 5))
    assert model.built and model.layers[0].get_weights()[0].shape == (5, 8)


def test_summary_shows_unbuilt_layers_then_their_shapes_and_counts(rng):
    model = MLP(name="mlp")
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "mlp"'
    rows = [line for line in lines if line.startswith(model.first.name + " (Dense)")]
    assert "?" in rows[0] and "0 (unbuilt)" in rows[0]
    assert "Total params: 0" in lines
    model.build((None, 5))
    lines.clear()
    model.summary(print_fn=lines.append)
    rows = [line for line in lines if line.startswith(model.first.name + " (Dense)")]
    assert "(None, 8)" in rows[0] and rows[0].rstrip().endswith("48")
    assert f"Total params: {model.count_params():,}" in lines


# -- training ------------------------------------------------------------------------------
def test_a_subclassed_model_trains_as_its_functional_twin(rng):
    x, y = _data(rng)
    model = _mlp(0.2)
    model.build((None, 5))
    twin = _functional_twin(model)
    got = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    expected = twin.fit(x, y, batch_size=8, epochs=3, verbose=0)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(got.history[key], expected.history[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        model.evaluate(x, y, verbose=0), twin.evaluate(x, y, verbose=0), rtol=1e-5
    )
    np.testing.assert_allclose(
        model.predict(x, verbose=0), twin.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_training_reaches_call_and_a_call_without_it_works(rng):
    seen = []

    class Recording(nf.Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(1)
            self.dropout = Dropout(0.5)

        def call(self, inputs, training=None):
            seen.append(training)
            return self.dense(self.dropout(inputs) if training else inputs)

    class NoTraining(nf.Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(1)

        def call(self, inputs):
            return self.dense(inputs)

    x, y = _data(rng, rows=8)
    for model in (Recording(), NoTraining()):
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, batch_size=8, verbose=0)
        model.predict(x, verbose=0)
    assert seen == [False, True, False]  # built on zeros, one training step, one prediction


def test_a_model_inside_a_subclassed_model_is_trained_with_it(rng):
    class Wrapper(nf.Model):
        def __init__(self):
            super().__init__()
            self.body = Sequential([Dense(4, activation="relu"), Dense(4)])
            self.head = Dense(1)

        def call(self, inputs):
            return self.head(self.body(inputs))

    model = Wrapper()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    x, y = _data(rng)
    model.build((None, 5))
    before = model.body.layers[0].get_weights()[0].copy()
    model.fit(x, y, batch_size=8, verbose=0)
    assert model.layers == [*model.body.layers, model.head]
    assert not np.allclose(model.body.layers[0].get_weights()[0], before)


def test_several_inputs_come_as_a_list(rng):
    class TwoInputs(nf.Model):
        def __init__(self):
            super().__init__()
            self.left, self.right = Dense(3), Dense(3)
            self.head = Dense(1)

        def call(self, inputs):
            left, right = inputs
            return self.head(self.left(left) * self.right(right))

    model = TwoInputs()
    model.compile(optimizer="sgd", loss="mse")
    a, b = rng.normal(size=(16, 4)), rng.normal(size=(16, 2))
    model.fit([a, b], a[:, :1], batch_size=4, verbose=0)
    assert model.input_example_shapes == [(4,), (2,)]
    assert model.predict([a, b], verbose=0).shape == (16, 1)


# -- weights and files ---------------------------------------------------------------------
def test_weights_round_trip_and_load_into_a_new_instance(rng, tmp_path):
    x, y = _data(rng)
    model = _mlp(0.2)
    model.fit(x, y, batch_size=8, verbose=0)
    other = MLP()
    other.build((None, 5))
    other.set_weights(model.get_weights())
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    path = tmp_path / "mlp.weights.safetensors"
    model.save_weights(path)
    fresh = MLP()
    fresh.build((None, 5))
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_saving_the_architecture_is_a_clear_error(rng, tmp_path):
    model = _mlp(0.2)
    model.build((None, 5))
    with pytest.raises(ValueError, match=r"subclassed model \(MLP\).*never serializes code"):
        model.save(tmp_path / "mlp.keras")
    assert not (tmp_path / "mlp.keras").exists()
    with pytest.raises(ValueError, match="save_weights"):
        model.get_config()


# -- fleets equal single runs --------------------------------------------------------------
def test_a_fleet_of_subclassed_models_equals_single_runs(rng):
    x, y = _data(rng)
    history = _mlp(RATES).fit(x, y, batch_size=8, epochs=3, verbose=0)
    for m, rate in enumerate(RATES):
        own = _mlp(rate).fit(x, y, batch_size=8, epochs=3, verbose=0)
        for key in ("loss", "accuracy"):
            np.testing.assert_allclose(
                history.member(m).history[key], own.history[key], rtol=1e-5, atol=1e-7
            )


def test_stacked_subclassed_models_equal_their_single_runs(rng):
    x, y = _data(rng)
    singles = []
    for seed, rate in enumerate(RATES):
        model = _mlp(rate, seed=seed)
        model.build((None, 5))
        singles.append(model)
    fleet = fleet_module.stack(singles)
    assert type(fleet) is MLP and fleet.num_members == 3
    history = fleet.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for m, (seed, rate) in enumerate(zip(range(3), RATES)):
        own = _mlp(rate, seed=seed)
        own.build((None, 5))
        expected = own.fit(x, y, batch_size=8, epochs=2, verbose=0)
        np.testing.assert_allclose(
            history.member(m).history["loss"], expected.history["loss"], rtol=1e-5, atol=1e-7
        )


def test_a_model_that_writes_build_makes_its_layers_there(rng):
    class Built(nf.Model):
        def build(self, input_shape):
            self.widths = input_shape[-1]
            self.dense = Dense(2 * input_shape[-1])
            super().build(input_shape)

        def call(self, inputs):
            return self.dense(inputs)

    model = Built()
    model.build((None, 3))
    assert model.built and model.output_shape == (None, 6)
    lazy = Built()
    lazy.compile(optimizer="sgd", loss="mse")
    lazy.fit(rng.normal(size=(4, 2)), rng.normal(size=(4, 4)), verbose=0)
    assert lazy.layers == [lazy.dense] and lazy.count_params() == 2 * 4 + 4


def test_a_call_returning_a_list_makes_outputs_with_keras_names(rng):
    class TwoHeads(nf.Model):
        def __init__(self):
            super().__init__()
            self.body = Dense(4, activation="relu")
            self.value, self.kind = Dense(1), Dense(2, activation="softmax")

        def call(self, inputs):
            hidden = self.body(inputs)
            return [self.value(hidden), self.kind(hidden)]

    model = TwoHeads()
    model.compile(
        optimizer="adam",
        loss=["mse", "categorical_crossentropy"],
        loss_weights=[1.0, 0.5],
        metrics=[[], ["accuracy"]],
    )
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = [x[:, :1], np.eye(2)[(x[:, 0] > 0).astype(int)]]
    history = model.fit(x, y, epochs=1, verbose=0)
    assert model.output_names == ["output_1", "output_2"]
    assert set(history.history) == {"loss", "output_1_loss", "output_2_loss", "output_2_accuracy"}
    assert [p.shape for p in model.predict(x, verbose=0)] == [(16, 1), (16, 2)]
