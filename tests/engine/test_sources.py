"""Tests for netfleet.engine.sources: fit / evaluate / predict from a Python generator, a
`PyDataset` (Keras' `Sequence`) or a torch `DataLoader` train and score exactly as the same
batches taken from arrays (shuffle=False); steps_per_epoch, validation_steps, on_epoch_end;
fleets share the streamed batches; bad streams are refused with clear errors."""

import itertools

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from netfleet.errors import NotBuiltError
from netfleet.layers import Concatenate, Dense, Input
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD
from netfleet.utils import PyDataset, Sequence, set_random_seed

N, FEATURES, BATCH = 40, 4, 8  # five batches


@pytest.fixture
def data(rng):
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    return x, (x[:, 0] - x[:, 2] > 0).astype("float32")


def _classifier(learning_rate=0.1):
    set_random_seed(0)
    model = Sequential(
        [Dense(5, activation="relu", input_shape=(FEATURES,)), Dense(1, activation="sigmoid")],
        seed=1,
    )
    model.compile(SGD(learning_rate=learning_rate), "binary_crossentropy", ["accuracy"])
    return model


def _batches(*arrays, size=BATCH):
    return [tuple(a[s : s + size] for a in arrays) for s in range(0, len(arrays[0]), size)]


class Batches(PyDataset):
    """A PyDataset over in-memory batches that counts its epochs."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches
        self.epochs_begun = self.epochs_ended = 0

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        return self.batches[index]

    def on_epoch_begin(self):
        self.epochs_begun += 1

    def on_epoch_end(self):
        self.epochs_ended += 1


class KerasStyleSequence:
    """Written for Keras 2: no netfleet base class, no super().__init__()."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        return self.batches[index]

    def on_epoch_end(self):
        pass


def _stream(kind, x, y):
    """The batches of (x, y) in order, as a stream of `kind` (a generator loops forever)."""
    batches = _batches(x, y)
    if kind == "generator":
        return itertools.cycle(batches)
    if kind == "sequence":
        return Batches(batches)
    if kind == "keras_sequence":
        return KerasStyleSequence(batches)
    return DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=BATCH)


def _same_weights(first, second):
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _same_history(first, second):
    assert list(first.history) == list(second.history)
    for key, values in first.history.items():
        np.testing.assert_allclose(second.history[key], values, rtol=1e-5)


KINDS = ["generator", "sequence", "keras_sequence", "dataloader"]


# -- the same batches from a stream and from arrays --------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_trains_as_the_same_batches_from_arrays(data, kind):
    x, y = data
    reference = _classifier()
    expected = reference.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    model = _classifier()
    steps = {"steps_per_epoch": N // BATCH} if kind == "generator" else {}
    history = model.fit(_stream(kind, x, y), epochs=3, verbose=0, **steps)
    _same_weights(reference, model)
    _same_history(expected, history)
    assert history.params["steps"] == N // BATCH


@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_and_predict_read_a_stream_as_arrays(data, kind):
    x, y = data
    model = _classifier()
    steps = {"steps": N // BATCH} if kind == "generator" else {}
    np.testing.assert_allclose(
        model.evaluate(_stream(kind, x, y), verbose=0, **steps),
        model.evaluate(x, y, verbose=0),
        rtol=1e-6,
    )
    np.testing.assert_allclose(  # the targets in the batches are ignored
        model.predict(_stream(kind, x, y), verbose=0, **steps), model.predict(x, verbose=0)
    )


def test_predict_takes_batches_of_inputs_alone(data):
    x, _ = data
    model = _classifier()
    batches = (x[s : s + BATCH] for s in range(0, N, BATCH))
    np.testing.assert_array_equal(model.predict(batches, verbose=0), model.predict(x, verbose=0))


def test_a_finite_generator_trains_one_epoch_to_its_end(data):
    x, y = data
    reference = _classifier()
    reference.fit(x, y, batch_size=BATCH, shuffle=False, verbose=0)
    model = _classifier()
    history = model.fit(iter(_batches(x, y)), verbose=0)
    _same_weights(reference, model)
    assert history.params["steps"] is None  # unknown until the generator ends


def test_batches_with_sample_weights_and_class_weight_as_from_arrays(data, rng):
    x, y = data
    weights = (rng.random(N) + 0.5).astype("float32")
    reference = _classifier()
    reference.fit(x, y, sample_weight=weights, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    model = _classifier()
    model.fit(Batches(_batches(x, y, weights)), epochs=2, verbose=0)
    _same_weights(reference, model)
    class_weight = {0: 1.0, 1: 3.0}
    reference = _classifier()
    reference.fit(x, y, class_weight=class_weight, batch_size=BATCH, shuffle=False, verbose=0)
    model = _classifier()
    model.fit(Batches(_batches(x, y)), class_weight=class_weight, verbose=0)
    _same_weights(reference, model)


def test_several_inputs_and_outputs_stream_as_lists_or_dicts(data):
    x, y = data

    def build():
        set_random_seed(0)
        left, right = Input(shape=(2,), name="left"), Input(shape=(2,), name="right")
        hidden = Dense(3, activation="tanh", name="hidden")(Concatenate()([left, right]))
        score = Dense(1, activation="sigmoid", name="score")(hidden)
        value = Dense(1, name="value")(hidden)
        model = Model([left, right], [score, value], seed=1)
        model.compile(SGD(learning_rate=0.1), ["binary_crossentropy", "mse"], loss_weights=[1, 2])
        return model

    inputs, targets = [x[:, :2], x[:, 2:]], [y, x[:, :1]]
    reference = build()
    expected = reference.fit(inputs, targets, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    batches = [
        ({"left": a, "right": b}, {"score": s, "value": v})
        for a, b, s, v in _batches(*inputs, *targets)
    ]
    model = build()
    _same_history(expected, model.fit(Batches(batches), epochs=2, verbose=0))
    _same_weights(reference, model)
    for a, b in zip(
        model.predict(Batches(batches), verbose=0), reference.predict(inputs, verbose=0)
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6)


# -- how many batches an epoch reads ---------------------------------------------------------------
def test_steps_per_epoch_continues_a_generator_from_epoch_to_epoch(data):
    x, y = data
    reference = _classifier()
    reference.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    model = _classifier()
    history = model.fit(_stream("generator", x, y), steps_per_epoch=2, epochs=5, verbose=0)
    _same_weights(reference, model)  # 5 epochs of 2 batches: the 10 batches of 2 passes
    assert history.params["steps"] == 2 and history.epoch == [0, 1, 2, 3, 4]


def test_steps_per_epoch_continues_a_dataloader_through_new_passes(data):
    x, y = data
    reference = _classifier()
    reference.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    model = _classifier()
    model.fit(_stream("dataloader", x, y), steps_per_epoch=3, epochs=5, verbose=0)
    _same_weights(reference, model)  # 15 batches: three passes of five


def test_steps_per_epoch_reads_the_first_batches_of_a_sequence_every_epoch(data):
    x, y = data
    reference = _classifier()
    reference.fit(x[:16], y[:16], batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    model = _classifier()
    batches = Batches(_batches(x, y))
    model.fit(batches, steps_per_epoch=2, epochs=3, verbose=0)
    _same_weights(reference, model)
    assert batches.epochs_begun == batches.epochs_ended == 3


def test_steps_per_epoch_with_arrays_trains_the_first_batches_of_each_epoch(data):
    x, y = data
    reference = _classifier()
    reference.fit(x[:16], y[:16], batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    model = _classifier()
    model.fit(x, y, batch_size=BATCH, steps_per_epoch=2, epochs=3, shuffle=False, verbose=0)
    _same_weights(reference, model)


def test_validation_reads_the_first_validation_steps_batches_every_epoch(data):
    x, y = data
    validation = Batches(_batches(x, y))
    model = _classifier()
    history = model.fit(
        x, y, batch_size=BATCH, epochs=2, validation_data=validation, validation_steps=2, verbose=0
    )
    assert validation.epochs_ended == 2
    expected = model.evaluate(x[:16], y[:16], verbose=0)
    np.testing.assert_allclose(
        [history.history["val_loss"][-1], history.history["val_accuracy"][-1]], expected, rtol=1e-5
    )
    loader = _stream("dataloader", x, y)
    history = model.fit(x, y, epochs=2, validation_data=loader, validation_steps=2, verbose=0)
    np.testing.assert_allclose(
        history.history["val_loss"][-1], model.evaluate(x[:16], y[:16], verbose=0)[0], rtol=1e-5
    )


def test_a_generator_that_runs_out_stops_training_with_a_warning(data):
    x, y = data
    model = _classifier()
    with pytest.warns(UserWarning, match="ran out of batches after 3 epochs"):
        history = model.fit(iter(_batches(x, y)), steps_per_epoch=2, epochs=5, verbose=0)
    assert history.epoch == [0, 1, 2]  # the third epoch got the fifth batch alone


# -- fleets ----------------------------------------------------------------------------------------
def test_every_member_of_a_fleet_trains_on_the_streamed_batches(data):
    x, y = data
    rates = [0.05, 0.1, 0.3]
    fleet = _classifier(rates)
    history = fleet.fit(_stream("dataloader", x, y), epochs=2, verbose=0)
    for member, rate in enumerate(rates):
        single = _classifier(rate)
        expected = single.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
        for fleet_weight, weight in zip(fleet.get_weights(), single.get_weights()):
            np.testing.assert_allclose(fleet_weight[member], weight, rtol=1e-5, atol=1e-6)
        for key, values in expected.history.items():
            np.testing.assert_allclose(
                np.asarray(history.history[key])[:, member], values, rtol=1e-5
            )


# -- building from a stream ----------------------------------------------------------------------
def test_an_unbuilt_sequential_builds_from_a_sequences_first_batch_not_a_generator(data):
    x, y = data
    model = Sequential([Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    with pytest.raises(
        NotBuiltError, match="fit on a generator needs a model that knows its input"
    ):
        model.fit(iter(_batches(x, y)), verbose=0)
    model.fit(Batches(_batches(x, y)), verbose=0)
    assert model.input_shape == (None, FEATURES)


# -- bad streams -----------------------------------------------------------------------------------
def _assert_rejected(model, error, match, method="fit", **kwargs):
    before = model.get_weights()
    with pytest.raises(error, match=match):
        getattr(model, method)(**({"verbose": 0} | kwargs))
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize(
    ("batch", "got"),
    [
        (lambda x, y: x, "a ndarray"),
        (lambda x, y: (x,), "a tuple of 1 items"),
        (lambda x, y: (x, y, y, y), "a tuple of 4 items"),
    ],
)
def test_a_stream_of_the_wrong_structure_names_the_batch(data, batch, got):
    x, y = data
    stream = (batch(*b) for b in _batches(x, y))
    match = (
        r"'x' argument of fit must give batches \(x, y\) or \(x, y, sample_weight\). Its batch 0 "
        rf"\(epoch 1\) is {got}"
    )
    _assert_rejected(_classifier(), TypeError, match, x=stream)


def test_a_bad_array_in_a_batch_names_the_batch_and_the_shapes(data):
    x, y = data
    batches = _batches(x, y)
    batches[2] = (x[:BATCH, :3], y[:BATCH])
    with pytest.raises(
        ValueError,
        match=r"In batch 2 \(epoch 1\) of 'x': The 'x' argument of fit "
        r"has examples of shape \(3,\).*expects examples of shape \(4,\)",
    ):
        _classifier().fit(Batches(batches), verbose=0)


@pytest.mark.parametrize(
    ("argument", "value", "why"),
    [
        ("y", "labels", "its batches hold the targets"),
        ("batch_size", 16, "its batches have their own size"),
        ("sample_weight", "weights", r"give \(x, y, sample_weight\) batches"),
        ("validation_split", 0.2, "a stream cannot be split: give validation_data"),
        ("member_rows", "rows", "every member trains on its batches"),
    ],
)
def test_arguments_the_stream_decides_are_refused(data, argument, value, why):
    x, y = data
    value = {"labels": y, "weights": np.ones(N), "rows": [np.arange(N)]}.get(value, value)
    match = rf"'{argument}' argument of fit must be left out when x is a generator.*{why}"
    _assert_rejected(
        _classifier(), ValueError, match, x=Batches(_batches(x, y)), **{argument: value}
    )


def test_a_generator_needs_steps_for_several_epochs(data):
    x, y = data
    _assert_rejected(
        _classifier(),
        ValueError,
        r"'steps_per_epoch' argument of fit is required to read a generator in 2 epochs",
        x=_stream("generator", x, y),
        epochs=2,
    )
    _assert_rejected(
        _classifier(),
        ValueError,
        r"'validation_steps' argument of fit is required to read a generator in 3 epochs",
        x=x,
        y=y,
        epochs=3,
        validation_data=_stream("generator", x, y),
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps_per_epoch": 6}, r"'x' argument of fit has 5 batches; 6 batches per epoch"),
        ({"steps_per_epoch": 0}, r"'steps_per_epoch' argument of fit must be an integer >= 1"),
        ({"steps_per_epoch": 2.5}, r"'steps_per_epoch' argument of fit must be an integer >= 1"),
    ],
)
def test_bad_steps_are_refused(data, kwargs, match):
    x, y = data
    _assert_rejected(_classifier(), ValueError, match, x=Batches(_batches(x, y)), **kwargs)


def test_steps_beyond_the_arrays_and_an_empty_stream_are_refused(data):
    x, y = data
    _assert_rejected(
        _classifier(),
        ValueError,
        r"'steps_per_epoch' argument of fit asks for 6 batches per epoch, but the arrays make 5",
        x=x,
        y=y,
        batch_size=BATCH,
        steps_per_epoch=6,
    )
    _assert_rejected(_classifier(), ValueError, "gave no batches", x=iter([]))
    _assert_rejected(_classifier(), ValueError, "gave no batches", "predict", x=iter([]))


def test_sequence_is_keras_alias_of_pydataset():
    assert Sequence is PyDataset
    with pytest.raises(ValueError, match="'workers' argument of PyDataset must be an integer"):
        PyDataset(workers=0)
