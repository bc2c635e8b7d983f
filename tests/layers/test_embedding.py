"""Tests for netfleet.layers.embedding: rows of the table, one table per member, Keras'
default initializer, out-of-range indices, and an embedding model trained with fit."""

import numpy as np
import pytest
import torch

from netfleet.layers import Dense, Embedding, Flatten, Input
from netfleet.models import Sequential
from netfleet.optimizers import Adam
from netfleet.utils import set_random_seed


def _built(layer, input_shape):
    layer.build((None, *input_shape))
    return layer


def test_embedding_returns_the_rows_of_its_table(rng):
    layer = _built(Embedding(10, 3), (4,))
    table = rng.normal(size=(10, 3))
    layer.set_weights([table])
    indices = np.array([[1, 2, 9, 0], [4, 4, 3, 7]])
    expected = torch.nn.functional.embedding(torch.as_tensor(indices), torch.tensor(table).float())
    np.testing.assert_array_equal(layer(indices).numpy(), expected.numpy())


def test_embedding_default_initializer_is_keras_uniform():
    table = _built(Embedding(200, 50), (3,)).get_weights()[0]
    assert table.shape == (200, 50)
    assert -0.05 <= table.min() < -0.045 and 0.045 < table.max() <= 0.05


@pytest.mark.parametrize("shared_input", [False, True], ids=["own_batches", "shared_batch"])
def test_each_member_looks_up_its_own_table(rng, members, shared_input):
    tables = rng.normal(size=(members, 6, 2)).astype(np.float32)
    layer = _built(Embedding(6, 2), (3,))
    layer.embeddings = torch.as_tensor(tables)
    indices = rng.integers(0, 6, size=(1 if shared_input else members, 4, 3))
    out = layer.call(torch.as_tensor(indices, dtype=torch.float32))
    assert out.shape == (members, 4, 3, 2)
    for m in range(members):
        np.testing.assert_array_equal(out[m], tables[m][indices[0 if shared_input else m]])


def test_indices_outside_the_vocabulary_are_an_error():
    layer = _built(Embedding(5, 2), (2,))
    with pytest.raises(ValueError, match=r"input_dim=5: its inputs must be indices in \[0, 5\)"):
        layer(np.array([[1, 5]]))
    with pytest.raises(ValueError, match="Got values from -1 to 1"):
        layer(np.array([[1, -1]]))


def test_embedding_shapes_and_keras2_input_length():
    assert Embedding(10, 4).compute_output_shape((None, 7)) == (None, 7, 4)
    assert Embedding(10, 4)(Input((5,))).shape == (None, 5, 4)
    model = Sequential([Embedding(100, 8, input_length=10), Flatten(), Dense(1)])
    assert model.built and model.count_params() == 100 * 8 + 80 + 1


def test_an_embedding_model_learns_with_fit(rng):
    set_random_seed(0)
    x = rng.integers(0, 20, size=(64, 3))
    y = (x[:, 0] < 10).astype(np.float32)
    model = Sequential([Input((3,)), Embedding(20, 4), Flatten(), Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(learning_rate=0.05), loss="binary_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=10, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_embedding_config_round_trips():
    layer = Embedding(30, 5, embeddings_initializer="glorot_uniform", name="emb")
    assert Embedding.from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_dim": 0, "output_dim": 2}, "The 'input_dim' argument of Embedding must be"),
        ({"input_dim": 5, "output_dim": 2.5}, "The 'output_dim' argument of Embedding must be"),
        ({"input_dim": 5, "output_dim": 2, "mask_zero": True}, "'mask_zero' argument of Embed"),
    ],
)
def test_bad_embedding_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Embedding(**kwargs)
