"""Tests for netfleet.layers.merging: each merge against NumPy, Keras' broadcasting and shape
rules, members that share a batch merged with members that do not, and a functional model
with two branches trained with fit."""

import numpy as np
import pytest
import torch

from netfleet.layers import (
    Add,
    Average,
    Concatenate,
    Dense,
    Input,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from netfleet.models import Model
from netfleet.optimizers import SGD
from netfleet.utils import set_random_seed

ELEMENTWISE = [
    (Add, add, lambda a, b, c: a + b + c),
    (Multiply, multiply, lambda a, b, c: a * b * c),
    (Average, average, lambda a, b, c: (a + b + c) / 3),
    (Maximum, maximum, lambda a, b, c: np.maximum(np.maximum(a, b), c)),
    (Minimum, minimum, lambda a, b, c: np.minimum(np.minimum(a, b), c)),
]


IDS = [cls.__name__ for cls, _, _ in ELEMENTWISE]


@pytest.mark.parametrize("cls, _, reference", ELEMENTWISE, ids=IDS)
def test_elementwise_merges_equal_numpy(rng, cls, _, reference):
    a, b, c = (rng.normal(size=(4, 3)).astype(np.float32) for _ in range(3))
    np.testing.assert_allclose(cls()([a, b, c]).numpy(), reference(a, b, c), rtol=1e-6)


def test_subtract_takes_the_second_input_from_the_first(rng):
    a, b = rng.normal(size=(2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(Subtract()([a, b]).numpy(), a - b)


def test_concatenate_joins_along_the_last_axis_or_a_given_one(rng):
    a, b = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 3, 4))
    np.testing.assert_allclose(Concatenate()([a, b]).numpy(), np.concatenate([a, b], -1), 1e-6)
    c = rng.normal(size=(2, 5, 2))
    np.testing.assert_allclose(
        Concatenate(axis=1)([a, c]).numpy(), np.concatenate([a, c], 1), rtol=1e-6
    )


def test_elementwise_merges_broadcast_as_keras(rng):
    a = rng.normal(size=(2, 3, 4)).astype(np.float32)
    b = rng.normal(size=(2, 4)).astype(np.float32)  # b gains its axis right after the batch
    np.testing.assert_allclose(Add()([a, b]).numpy(), a + b[:, None, :], rtol=1e-6)
    assert Multiply().compute_output_shape([(None, 3, 1), (None, 1, 5)]) == (None, 3, 5)
    assert add([Input((3, 4)), Input((4,))]).shape == (None, 3, 4)


@pytest.mark.parametrize("cls, _, reference", ELEMENTWISE, ids=IDS)
def test_each_member_merges_its_own_tensors_with_a_shared_one(rng, members, cls, _, reference):
    shared = torch.as_tensor(rng.normal(size=(1, 5, 3)).astype(np.float32))
    own = torch.as_tensor(rng.normal(size=(members, 5, 3)).astype(np.float32))
    layer = cls()
    out = layer.call([shared, own, own])
    assert out.shape == (members, 5, 3)
    for m in range(members):
        expected = reference(shared[0].numpy(), own[m].numpy(), own[m].numpy())
        np.testing.assert_allclose(out[m].numpy(), expected, rtol=1e-6)


def test_concatenate_expands_a_shared_tensor_to_every_member(rng, members):
    shared = torch.as_tensor(rng.normal(size=(1, 5, 2)).astype(np.float32))
    own = torch.as_tensor(rng.normal(size=(members, 5, 3)).astype(np.float32))
    out = Concatenate().call([shared, own])
    assert out.shape == (members, 5, 5)
    for m in range(members):
        np.testing.assert_array_equal(out[m], torch.cat([shared[0], own[m]], -1))


def test_functional_forms_build_the_layers_in_a_graph():
    x = Input((4,))
    a, b = Dense(3)(x), Dense(3)(x)
    assert concatenate([a, b]).shape == (None, 6)
    assert concatenate([a, b], axis=1, name="joined").node.layer.name == "joined"
    for _, functional, _ in ELEMENTWISE:
        assert functional([a, b]).shape == (None, 3)
    assert subtract([a, b]).shape == (None, 3)


def _two_branches(seed, learning_rate):
    set_random_seed(seed)
    inputs = Input((4,))
    joined = concatenate([Dense(3, activation="relu")(inputs), Dense(2, activation="tanh")(inputs)])
    summed = add([Dense(2)(joined), Dense(2)(inputs)])
    model = Model(inputs, Dense(1, activation="sigmoid")(summed), seed=seed)
    model.compile(optimizer=SGD(learning_rate=learning_rate), loss="binary_crossentropy")
    return model


def test_a_two_branch_model_trains_and_its_fleet_equals_single_runs(rng):
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.float32)
    rates = [0.05, 0.5]
    fleet = _two_branches(3, rates)
    history = fleet.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert history.history["loss"][-1][1] < history.history["loss"][0][1]
    for m, rate in enumerate(rates):
        single = _two_branches(3, rate)
        own = single.fit(x, y, batch_size=16, epochs=5, verbose=0)
        np.testing.assert_allclose(history.member(m).history["loss"], own.history["loss"], 1e-5)


def test_merge_configs_round_trip():
    layer = Concatenate(axis=2, name="cat")
    assert Concatenate.from_config(layer.get_config()).get_config() == layer.get_config()
    assert Add.from_config(Add(name="plus").get_config()).name == "plus"


def test_merges_of_incompatible_shapes_or_counts_say_so():
    with pytest.raises(ValueError, match=r"A Subtract layer merges a list of exactly 2 tensors"):
        subtract([Input((3,)), Input((3,)), Input((3,))])
    with pytest.raises(ValueError, match=r"Add layer needs inputs of broadcastable shapes"):
        add([Input((3,)), Input((4,))])
    with pytest.raises(ValueError, match=r"shapes agree on every axis but the concatenation"):
        concatenate([Input((3, 2)), Input((4, 2))])
    with pytest.raises(ValueError, match=r"Concatenate\(axis=3\) needs inputs of one rank"):
        concatenate([Input((3,)), Input((3,))], axis=3)
    with pytest.raises(ValueError, match="The 'axis' argument of Concatenate must be an integer"):
        Concatenate(axis=0)
