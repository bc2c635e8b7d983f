"""Tests for netfleet.models.cloning: `clone_model` as Keras' — the same architecture with
new weights, `clone_function` applied per layer, `input_tensors` to build on — for
Sequential, functional and subclassed models."""

import numpy as np
import pytest

import netfleet as nf
from netfleet.layers import Add, Dense, Dropout, Input, InputLayer
from netfleet.models import Model, Sequential, clone_model


def _sequential():
    return Sequential(
        [Input((4,), name="features"), Dense(8, activation="relu"), Dropout(0.2), Dense(2)],
        name="seq",
    )


def _residual():
    """A functional model with two inputs, a shared layer called twice and a merge."""
    left, right = Input((3,), name="left"), Input((3,), name="right")
    shared = Dense(3, name="shared")
    merged = Add()([shared(left), shared(right)])
    return Model([left, right], Dense(1, name="head")(merged), name="residual")


def _weights_differ(a, b):
    return all(
        not np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()) if x.any()
    )


def test_clone_model_is_public_as_in_keras():
    assert nf.models.clone_model is clone_model


@pytest.mark.parametrize("make", [_sequential, _residual], ids=["sequential", "functional"])
def test_a_clone_has_the_architecture_and_new_weights(make):
    model = make()
    clone = clone_model(model)
    assert type(clone) is type(model) and clone is not model
    assert clone.get_config()["layers"] == model.get_config()["layers"]
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    assert _weights_differ(clone, model)
    assert not set(map(id, clone.layers)) & set(map(id, model.layers))
    assert clone.compiled is None


def test_a_shared_layer_stays_shared_in_the_clone():
    clone = clone_model(_residual())
    shared = clone.get_layer("shared")
    assert len(shared.inbound_nodes) == 2 and len(clone.get_weights()) == 4


def test_clone_function_makes_each_layer_but_the_inputs():
    model = _sequential()
    seen = []

    def freeze(layer):
        seen.append(type(layer).__name__)
        config = layer.get_config()
        config["trainable"] = False
        return type(layer).from_config(config)

    clone = clone_model(model, clone_function=freeze)
    assert seen == ["Dense", "Dropout", "Dense"]
    assert clone.trainable_weights == [] and len(clone.weights) == 4
    same = clone_model(_residual(), clone_function=lambda layer: layer)
    assert same.get_layer("head") is not None and len(same.layers) == 5


def test_a_clone_function_that_returns_the_layer_shares_it():
    model = _sequential()
    clone = clone_model(model, clone_function=lambda layer: layer)
    assert clone.layers == model.layers


def test_input_tensors_give_the_clone_its_inputs():
    model = _residual()
    inputs = [Input((3,), name="a"), Input((3,), name="b")]
    clone = clone_model(model, input_tensors=inputs)
    assert clone.input_names == ["a", "b"]
    sequential = clone_model(_sequential(), input_tensors=Input((4,), name="x"))
    assert isinstance(sequential.layers[0], Dense) and sequential.input_layer.name == "x"
    with pytest.raises(ValueError, match=r"'input_tensors' argument of clone_model must be 2"):
        clone_model(model, input_tensors=[Input((3,))])


def test_a_clone_of_an_unbuilt_sequential_is_unbuilt():
    model = Sequential([Dense(3), Dense(1)])
    clone = clone_model(model)
    assert not clone.built and [layer.units for layer in clone.layers] == [3, 1]
    clone.build((None, 5))
    assert clone.count_params() == 5 * 3 + 3 + 4


def test_a_clone_predicts_as_its_model_once_given_the_weights(rng):
    model = _residual()
    clone = clone_model(model, seed=7)
    assert clone.seed == 7
    clone.set_weights(model.get_weights())
    for m in (model, clone):
        m.compile(optimizer="sgd", loss="mse")
    x = [rng.normal(size=(5, 3)), rng.normal(size=(5, 3))]
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


class Twin(nf.Model):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = Dense(units, activation="relu")
        self.out = Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def test_a_subclassed_model_is_made_again_from_its_arguments():
    model = Twin(5, name="twin")
    model.build((None, 3))
    clone = clone_model(model, seed=11)
    assert type(clone) is Twin and clone.units == 5 and clone.name == "twin"
    assert clone.built and clone.seed == 11 and clone.member_seeds == [11]
    assert [w.shape for w in clone.get_weights()] == [(3, 5), (5,), (5, 1), (1,)]
    assert _weights_differ(clone, model)
    assert not clone_model(Twin(2)).built


def test_a_subclassed_model_takes_no_clone_function_or_input_tensors():
    with pytest.raises(ValueError, match="for Sequential and functional models only"):
        clone_model(Twin(2), clone_function=lambda layer: layer)
    with pytest.raises(ValueError, match="for Sequential and functional models only"):
        clone_model(Twin(2), input_tensors=Input((3,)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model": Dense(2)}, "The 'model' argument of clone_model must be a netfleet Model"),
        ({"clone_function": 3}, "The 'clone_function' argument of clone_model must be"),
        ({"clone_function": lambda layer: 3}, "must return a layer. For layer"),
        ({"seed": -1}, "The 'seed' argument of clone_model"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    kwargs = {"model": _sequential(), **kwargs}
    with pytest.raises((TypeError, ValueError), match=message):
        clone_model(**kwargs)


def test_input_layers_are_cloned_with_their_names_and_shapes():
    clone = clone_model(_sequential())
    assert isinstance(clone.input_layer, InputLayer)
    assert clone.input_layer.name == "features" and clone.input_shape == (None, 4)
