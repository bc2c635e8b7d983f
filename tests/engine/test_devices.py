"""Devices (netfleet.config, netfleet.engine.placement): fit, evaluate and predict compute on
the device `netfleet.config` names, with the weights, optimizer state, data and running
metrics there, batch orders drawn on the CPU, and models saved on one device loading on
another; `device=` of sweeps, searches and the command line.

On a machine without a GPU, where every tensor lands is checked on PyTorch's `meta` device
(tensors with shapes and no data): a fit there runs every step, so every tensor it computes
with must be there. The CUDA tests run where PyTorch sees a GPU and are skipped elsewhere.
"""

import types

import numpy as np
import pytest
import torch

import netfleet as nf
from netfleet import config, registry
from netfleet.cli import main
from netfleet.engine import placement, training
from netfleet.engine.accumulators import Accumulator
from netfleet.engine.batching import BatchPlan
from netfleet.errors import InvalidArgumentError
from netfleet.fleet import sweep
from netfleet.layers import BatchNormalization, Dense, Dropout
from netfleet.models import Sequential, load_model
from netfleet.ops import seeding
from netfleet.optimizers import Adam
from netfleet.sklearn import FleetSearchCV, NetClassifier
from netfleet.utils import set_random_seed

ROWS, FEATURES = 80, 5
META = torch.device("meta")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def _automatic(monkeypatch):
    monkeypatch.delenv(config.ENVIRONMENT_VARIABLE, raising=False)
    config.set_device("auto")
    yield
    config.set_device("auto")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, FEATURES)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("float32")
    return x, y


def _model(members=2, dropout=0.0, normalization=True, metrics=("accuracy", "auc")):
    set_random_seed(2)
    layers = [Dense(8, activation="relu", input_shape=(FEATURES,))]
    if normalization:
        layers.append(BatchNormalization())
    if dropout:
        layers.append(Dropout(dropout))
    model = Sequential([*layers, Dense(1, activation="sigmoid")], seed=4)
    rates = [0.01 * (m + 1) for m in range(members)]
    optimizer = Adam(learning_rate=rates if members > 1 else rates[0])
    model.compile(optimizer, "binary_crossentropy", list(metrics))
    return model


def _optimizer_tensors(model):
    optimizer = model.compiled.optimizer
    return [optimizer.iterations, *optimizer.slots.values(), *optimizer.h.values()]


@pytest.fixture
def on_meta(monkeypatch):
    """Compute on the meta device: its values cannot be read, so logs and predictions read
    zeros of the right shapes, recording the device each value came from."""
    read = []

    def zeros(tensor):
        read.append(tensor.device)
        return torch.zeros(tensor.shape, dtype=tensor.dtype)

    monkeypatch.setattr(config, "get_device", lambda: META)
    monkeypatch.setattr(training, "_on_host", lambda values: [zeros(v.detach()) for v in values])
    monkeypatch.setattr(placement, "to_host", zeros)
    monkeypatch.setattr(seeding, "device_generators", lambda generators, device: generators)
    return read


# -- every tensor on the chosen device -----------------------------------------------------------
def test_fit_evaluate_and_predict_compute_on_the_chosen_device(on_meta, data):
    model = _model()
    history = model.fit(*data, batch_size=16, epochs=2, verbose=0, validation_split=0.25)
    assert set(history.history) == {
        "loss",
        "accuracy",
        "auc",
        "val_loss",
        "val_accuracy",
        "val_auc",
    }
    assert {weight.device for weight in model.weights} == {META}  # moving statistics too
    store = model.current_parameter_store()
    assert store.data.device == store.grad.device == META
    assert {tensor.device for tensor in _optimizer_tensors(model)} == {META}
    assert on_meta and set(on_meta) == {META}  # the logs were computed there
    on_meta.clear()
    model.evaluate(*data, verbose=0)
    assert model.predict(data[0], verbose=0).shape == (2, ROWS, 1)
    assert on_meta and set(on_meta) == {META}


def test_batch_orders_are_drawn_on_the_cpu_the_same_on_every_device(monkeypatch, data):
    cpu = _model()
    cpu.fit(*data, batch_size=16, epochs=3, verbose=0)
    with monkeypatch.context() as patch:
        patch.setattr(config, "get_device", lambda: META)
        patch.setattr(training, "_on_host", lambda values: [torch.zeros(v.shape) for v in values])
        patch.setattr(seeding, "device_generators", lambda generators, device: generators)
        elsewhere = _model()
        elsewhere.fit(*data, batch_size=16, epochs=3, verbose=0)
    for a, b in zip(
        cpu.member_generators(seeding.SHUFFLE), elsewhere.member_generators(seeding.SHUFFLE)
    ):
        assert torch.equal(a.get_state(), b.get_state())


def test_set_device_and_the_environment_reach_fit(monkeypatch, data):
    monkeypatch.setenv(config.ENVIRONMENT_VARIABLE, "cpu")
    model = _model()
    model.fit(*data, batch_size=16, epochs=1, verbose=0)
    assert {weight.device.type for weight in model.weights} == {"cpu"}
    config.set_device("cpu")
    assert isinstance(model.predict(data[0], verbose=0), np.ndarray)


def test_a_trained_model_moves_with_its_optimizer_state(data):
    model = _model()
    model.fit(*data, batch_size=16, epochs=1, verbose=0)
    store = model.current_parameter_store()
    optimizer = model.compiled.optimizer
    slots = {name: slot.clone() for name, slot in optimizer.slots.items()}
    placement.place_for_training(model, store, META)
    assert store.is_current()  # the layers hold views of the moved buffer
    assert {weight.device for weight in model.weights} == {META}
    assert optimizer.is_built_for(store.data)
    assert {tensor.device for tensor in _optimizer_tensors(model)} == {META}
    assert {name: slot.shape for name, slot in optimizer.slots.items()} == {
        name: slot.shape for name, slot in slots.items()
    }


def test_batch_plans_index_on_the_device(data):
    rows = [torch.arange(ROWS - 10), torch.arange(ROWS)]  # padded, with a mask
    plan = BatchPlan(rows, 2, [8, 16], True, [torch.Generator(), torch.Generator()], [1, 2], META)
    batches = plan.epoch()
    assert {batch.idx.device for batch in batches} == {META}
    assert {batch.mask.device for batch in batches} == {META}
    shared = BatchPlan(torch.arange(ROWS), 3, 16, True, [torch.Generator()] * 3, [1, 1, 1], META)
    assert {batch.idx.device for batch in shared.epoch()} == {META}


METRIC_CLASSES = sorted(n for n, e in registry.entries("metric").items() if isinstance(e, type))


@pytest.mark.parametrize("name", METRIC_CLASSES)
def test_every_metric_keeps_its_state_on_the_device(name):
    metric = registry.entries("metric")[name]()
    head = types.SimpleNamespace(prefix="", metrics=[metric], weighted_metrics=[metric])
    dataset = types.SimpleNamespace(
        loss=None, heads=[head], metrics=head.metrics, weighted_metrics=head.weighted_metrics
    )
    accumulator = Accumulator(dataset, 3, device=META)
    assert accumulator.names == [metric.name, f"weighted_{metric.name}"]
    tensors = [
        value
        for metric in accumulator.metrics + accumulator.weighted_metrics
        for value in vars(metric).values()
        if torch.is_tensor(value)
    ]
    assert tensors and {tensor.device for tensor in tensors} == {META}
    assert accumulator.loss_total.device == META


def test_device_generators_are_seeded_from_each_members_own_generator():
    generators = [seeding.member_generator(seed, seeding.DROPOUT) for seed in (1, 2)]
    twins = [seeding.member_generator(seed, seeding.DROPOUT) for seed in (1, 2)]
    drawn = seeding.device_generators(generators, torch.device("cpu"))
    expected = [int(torch.randint(0, 2**63 - 1, (1,), generator=g)) for g in twins]
    assert [g.initial_seed() for g in drawn] == expected
    for generator, twin in zip(generators, twins):  # one draw each: the stream continues
        assert torch.equal(generator.get_state(), twin.get_state())


# -- files ---------------------------------------------------------------------------------------
def test_a_model_saved_on_one_device_loads_on_another(tmp_path, data, monkeypatch):
    model = _model()
    model.fit(*data, batch_size=16, epochs=2, verbose=0)  # on the default device
    path = tmp_path / "model.keras"
    model.save(path)
    with config.device_scope("cpu"):
        loaded = load_model(path)
        assert {weight.device.type for weight in loaded.weights} == {"cpu"}
        np.testing.assert_allclose(
            loaded.predict(data[0], verbose=0), model.predict(data[0], verbose=0), atol=1e-6
        )
    monkeypatch.setattr(config, "get_device", lambda: META)
    elsewhere = load_model(path)
    assert {weight.device for weight in elsewhere.weights} == {META}
    assert {tensor.device for tensor in _optimizer_tensors(elsewhere)} == {META}


# -- device= where users look for it -------------------------------------------------------------
def _build(units=4):
    return Sequential([Dense(units, activation="relu", input_shape=(FEATURES,)), Dense(1)])


def test_sweep_trains_on_the_device_it_is_given(data, monkeypatch):
    chosen = []
    fit = training.fit

    def recording_fit(model, *args, **kwargs):
        chosen.append(config.get_device())
        return fit(model, *args, **kwargs)

    monkeypatch.setattr(training, "fit", recording_fit)
    result = sweep(
        _build,
        {"units": [2, 4]},
        *data,
        compile={"optimizer": "sgd", "loss": "mse"},
        fit={"epochs": 1},
        device="cpu",
    )
    assert len(result.models) == 2
    assert chosen and set(chosen) == {torch.device("cpu")}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_device_this_machine_lacks_is_refused_before_training(data, capsys):
    with pytest.raises(InvalidArgumentError, match="'device' argument of sweep"):
        sweep(_build, {"units": [2]}, *data, compile={"loss": "mse"}, device="cuda")
    search = FleetSearchCV(NetClassifier(epochs=1), {"epochs": [1]}, cv=2, device="cuda")
    with pytest.raises(InvalidArgumentError, match="'device' argument of FleetSearchCV"):
        search.fit(*data)
    assert not hasattr(search, "cv_results_")
    assert main(["demo", "--epochs", "1", "--device", "cuda:0"]) == 2
    assert "'device' argument of netfleet demo" in capsys.readouterr().err


def test_searches_take_a_device_parameter(data):
    search = FleetSearchCV(NetClassifier(epochs=1, seed=0), {"epochs": [1, 2]}, cv=2, device="cpu")
    assert search.get_params()["device"] == "cpu"
    search.fit(*data)
    assert {weight.device.type for weight in search.best_estimator_.model_.weights} == {"cpu"}
    randomized = nf.sklearn.FleetRandomizedSearchCV(
        NetClassifier(), {"epochs": [1]}, n_iter=1, device="cpu"
    )
    assert randomized.get_params()["device"] == "cpu"
    for halving in (
        nf.sklearn.FleetHalvingGridSearchCV(NetClassifier(epochs=4), {"units": [2]}, device="cpu"),
        nf.sklearn.FleetHalvingRandomSearchCV(
            NetClassifier(epochs=4), {"units": [2]}, device="cpu"
        ),
    ):
        assert halving.get_params()["device"] == "cpu"


def test_the_command_line_takes_a_device(capsys):
    assert main(["demo", "--epochs", "1", "--verbose", "0", "--device", "cpu"]) == 0
    assert "Test accuracy" in capsys.readouterr().out


# -- on a GPU ------------------------------------------------------------------------------------
@cuda
def test_fit_on_cuda_keeps_everything_there_and_gives_numpy_back(data):
    config.set_device("cuda")
    model = _model(dropout=0.2)
    history = model.fit(*data, batch_size=16, epochs=2, verbose=0, validation_split=0.25)
    assert np.isfinite(history.history["loss"][-1]).all()
    assert {weight.device.type for weight in model.weights} == {"cuda"}
    assert {tensor.device.type for tensor in _optimizer_tensors(model)} == {"cuda"}
    predictions = model.predict(data[0], verbose=0)
    assert isinstance(predictions, np.ndarray) and predictions.shape == (2, ROWS, 1)


@cuda
def test_batch_orders_on_cuda_are_those_of_the_cpu(data):
    def run(device):
        with config.device_scope(device):
            model = _model(normalization=False)
            model.fit(*data, batch_size=16, epochs=3, verbose=0)
            return [g.get_state() for g in model.member_generators(seeding.SHUFFLE)]

    for a, b in zip(run("cpu"), run("cuda")):
        assert torch.equal(a, b)


@cuda
def test_training_resumes_on_another_device_with_its_optimizer_state(data):
    config.set_device("cpu")
    model = _model(normalization=False)
    model.fit(*data, batch_size=16, epochs=2, verbose=0)
    reference = _model(normalization=False)
    reference.fit(*data, batch_size=16, epochs=3, verbose=0)
    config.set_device("cuda")
    model.fit(*data, batch_size=16, epochs=1, verbose=0)
    assert model.compiled.optimizer.iterations.device.type == "cuda"
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)


@cuda
def test_a_model_saved_on_cuda_loads_on_the_cpu_and_back(tmp_path, data):
    config.set_device("cuda")
    model = _model()
    model.fit(*data, batch_size=16, epochs=2, verbose=0)
    model.save(tmp_path / "model.keras")
    with config.device_scope("cpu"):
        on_cpu = load_model(tmp_path / "model.keras")
        assert {weight.device.type for weight in on_cpu.weights} == {"cpu"}
        from_cpu = on_cpu.predict(data[0], verbose=0)
    on_cuda = load_model(tmp_path / "model.keras")
    assert {weight.device.type for weight in on_cuda.weights} == {"cuda"}
    np.testing.assert_allclose(from_cpu, on_cuda.predict(data[0], verbose=0), atol=1e-5)
    np.testing.assert_array_equal(
        on_cuda.predict(data[0], verbose=0), model.predict(data[0], verbose=0)
    )


@cuda
def test_runs_on_cuda_repeat_bit_for_bit(data):
    config.set_device("cuda")

    def run():
        model = _model(dropout=0.3)
        model.fit(*data, batch_size=16, epochs=3, verbose=0, validation_split=0.25)
        return model.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


@cuda
def test_a_fleet_in_slices_on_cuda_trains_as_the_whole_fleet(data):
    config.set_device("cuda")

    def run(chunk_size):
        model = _model(members=5, dropout=0.3)
        model.set_members(5, seeds=[1, 2, 1, 3, 2])
        history = model.fit(*data, batch_size=16, epochs=2, verbose=0, member_chunk_size=chunk_size)
        return model.get_weights(), history.history

    (weights_a, history_a), (weights_b, history_b) = run(None), run(2)
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_array_equal(a, b)
    for key in history_a:
        np.testing.assert_array_equal(np.asarray(history_a[key]), np.asarray(history_b[key]))


# -- mixed precision -----------------------------------------------------------------------------
@pytest.fixture
def bf16():
    config.set_precision("bf16")
    yield
    config.set_precision("float32")


def test_bf16_forward_passes_round_the_matrix_products_and_give_float32(data, bf16):
    model = _model(normalization=False)
    model.fit(*data, batch_size=16, epochs=2, verbose=0)
    mixed = model.predict(data[0], verbose=0)
    config.set_precision("float32")
    full = model.predict(data[0], verbose=0)
    assert mixed.dtype == full.dtype == np.float32
    assert not np.array_equal(mixed, full)  # bfloat16 keeps 8 bits of mantissa
    np.testing.assert_allclose(mixed, full, atol=2e-2)


def test_bf16_training_keeps_float32_weights_and_state(data, bf16):
    model = _model(normalization=False)
    history = model.fit(*data, batch_size=16, epochs=3, verbose=0)
    assert np.all(np.diff(np.asarray(history.history["loss"]).mean(1)) < 0)  # it learns
    assert {weight.dtype for weight in model.weights} == {torch.float32}
    assert {tensor.dtype for tensor in _optimizer_tensors(model)} == {torch.float32}


def test_an_unknown_precision_is_refused():
    with pytest.raises(InvalidArgumentError, match="'precision' argument of set_precision"):
        config.set_precision("fp16")
