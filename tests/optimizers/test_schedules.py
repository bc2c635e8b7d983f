"""Learning-rate schedules: Keras' formulas and Keras 3 itself, settings as lists (one member
each), as any optimizer's learning rate (each member at its own step count, on the device),
configs, saving, and the errors of bad settings."""

import json

import numpy as np
import pytest
import torch

import netfleet
from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.fleet import stack
from netfleet.layers import Dense
from netfleet.models import Sequential
from netfleet.optimizers import SGD, Adam, AdamW, Lion, get, schedules, serialize
from netfleet.optimizers.schedules import (
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
)
from netfleet.utils import set_random_seed

from .oracle import (
    FORMULAS,
    KERAS_TOLERANCE,
    assert_trajectories_close,
    keras,
    keras_schedule,
    problem,
    run_formula,
    run_keras,
    run_netfleet,
    schedule_formula,
)

STEPS = [0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 15, 20, 40, 1000]

SCHEDULES = [
    ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5),
    ExponentialDecay(0.1, decay_steps=3, decay_rate=0.9, staircase=True),
    InverseTimeDecay(0.5, decay_steps=2.0, decay_rate=0.5),
    InverseTimeDecay(0.5, decay_steps=3, decay_rate=2.0, staircase=True),
    CosineDecay(0.1, decay_steps=10),
    CosineDecay(0.1, decay_steps=10, alpha=0.2),
    CosineDecay(0.0, decay_steps=10, warmup_target=0.1, warmup_steps=5),
    CosineDecay(0.01, decay_steps=8, alpha=0.1, warmup_target=0.2, warmup_steps=3),
    PiecewiseConstantDecay([3, 9], [1.0, 0.5, 0.1]),
    PiecewiseConstantDecay([10], [0.2, 0.02]),
]


def schedule_id(schedule):
    return repr(schedule)


# -- the formulas ----------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", SCHEDULES, ids=schedule_id)
def test_a_schedule_follows_keras_formula(schedule):
    formula = schedule_formula(schedule)
    actual = [float(schedule(step)) for step in STEPS]
    np.testing.assert_allclose(actual, [formula(step) for step in STEPS], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=schedule_id)
def test_a_schedule_equals_keras_own_schedule(schedule):
    theirs = keras_schedule(schedule)
    expected = [float(keras().ops.convert_to_numpy(theirs(step))) for step in STEPS]
    np.testing.assert_allclose([float(schedule(s)) for s in STEPS], expected, rtol=1e-6)


def test_a_schedule_takes_keras_positional_arguments_and_names():
    schedule = CosineDecay(0.1, 100, 0.05, "warm", 0.5, 10)
    assert schedule.get_config() == {
        "initial_learning_rate": 0.1,
        "decay_steps": 100.0,
        "alpha": 0.05,
        "warmup_target": 0.5,
        "warmup_steps": 10.0,
        "name": "warm",
    }
    assert schedule.warmup_target == 0.5
    assert ExponentialDecay(0.1, 10, 0.5).name == "ExponentialDecay"
    assert PiecewiseConstantDecay([1], [1.0, 0.5]).name == "PiecewiseConstant"


# -- settings as lists -----------------------------------------------------------------------
def test_list_settings_make_one_member_each_crossed_in_product_order():
    schedule = ExponentialDecay([0.1, 0.01], decay_steps=10, decay_rate=[0.5, 0.9])
    assert schedule.num_members == 4
    assert schedule.member_params == [
        {"initial_learning_rate": 0.1, "decay_rate": 0.5},
        {"initial_learning_rate": 0.1, "decay_rate": 0.9},
        {"initial_learning_rate": 0.01, "decay_rate": 0.5},
        {"initial_learning_rate": 0.01, "decay_rate": 0.9},
    ]
    expected = [float(member(20)) for member in schedule.members()]
    np.testing.assert_allclose(schedule(20).numpy(), expected)
    np.testing.assert_allclose(expected, [0.025, 0.081, 0.0025, 0.0081], rtol=1e-6)


def test_members_may_mix_warmup_staircase_and_boundaries():
    cosine = CosineDecay(0.05, decay_steps=10, warmup_target=[None, 0.1], warmup_steps=4)
    staircase = InverseTimeDecay(0.5, decay_steps=3, decay_rate=1.0, staircase=[False, True])
    pieces = PiecewiseConstantDecay([[5], [2]], [[1.0, 0.1], [0.5, 0.2]])
    for schedule in (cosine, staircase, pieces):
        rates = np.stack([schedule(step).numpy() for step in STEPS])
        alone = [[float(m(step)) for m in schedule.members()] for step in STEPS]
        np.testing.assert_array_equal(rates, np.asarray(alone, dtype=np.float32))
        formulas = [schedule_formula(member) for member in schedule.members()]
        expected = [[formula(step) for formula in formulas] for step in STEPS]
        np.testing.assert_allclose(rates, expected, rtol=1e-6, atol=1e-9)


# -- in an optimizer -------------------------------------------------------------------------
WITH_OPTIMIZERS = [
    (SGD, {"momentum": 0.9}, ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)),
    (Adam, {}, CosineDecay(0.0, decay_steps=10, warmup_target=0.05, warmup_steps=5)),
    (AdamW, {"weight_decay": 0.1}, PiecewiseConstantDecay([5, 12], [0.05, 0.01, 0.001])),
    (Lion, {}, InverseTimeDecay(0.01, decay_steps=3, decay_rate=1.0, staircase=True)),
]


def with_id(value):
    return value.__name__ if isinstance(value, type) else None


@pytest.mark.parametrize(("cls", "settings", "schedule"), WITH_OPTIMIZERS, ids=with_id)
def test_an_optimizer_steps_with_the_schedule_at_the_count_before_each_step(
    cls, settings, schedule
):
    w0, grads = problem()
    actual = run_netfleet(cls(learning_rate=schedule, **settings), w0, grads)
    config = {**cls(**settings).member_config(0), **settings}
    del config["learning_rate"]
    expected = run_formula(
        FORMULAS[cls.__name__], w0, grads, schedule=schedule_formula(schedule), **config
    )
    assert_trajectories_close(actual, expected)


@pytest.mark.parametrize(("cls", "settings", "schedule"), WITH_OPTIMIZERS, ids=with_id)
def test_an_optimizer_with_a_schedule_equals_keras_itself(cls, settings, schedule):
    w0, grads = problem()
    actual = run_netfleet(cls(learning_rate=schedule, **settings), w0, grads)
    config = {"learning_rate": schedule, **settings}
    assert_trajectories_close(actual, run_keras(cls.__name__, config, w0, grads), KERAS_TOLERANCE)


def test_a_swept_schedule_crosses_with_the_other_hyperparameters():
    schedule = ExponentialDecay([0.1, 0.01], decay_steps=5, decay_rate=0.5)
    optimizer = Adam(learning_rate=schedule, beta_1=[0.8, 0.9], clipnorm=[None, 1.0])
    assert optimizer.num_members == 8
    assert optimizer.member_params[:3] == [
        {"initial_learning_rate": 0.1, "beta_1": 0.8, "clipnorm": None},
        {"initial_learning_rate": 0.1, "beta_1": 0.8, "clipnorm": 1.0},
        {"initial_learning_rate": 0.1, "beta_1": 0.9, "clipnorm": None},
    ]
    assert optimizer.member_config(5)["learning_rate"] == schedule.members()[1]


def test_each_member_follows_its_own_schedule_as_its_single_run_bitwise():
    fleet = Adam(
        learning_rate=CosineDecay([0.05, 0.01], decay_steps=8, warmup_target=[None, 0.1]),
        beta_1=[0.8, 0.9],
    )
    w0, grads = problem(members=fleet.num_members)
    together = run_netfleet(fleet, w0, grads)
    for i in range(fleet.num_members):
        alone = run_netfleet(Adam(**fleet.member_config(i)), w0[i : i + 1], grads[:, i : i + 1])
        np.testing.assert_array_equal(together[:, i : i + 1], alone)


def test_members_of_different_schedule_kinds_and_plain_rates_share_one_optimizer():
    rows = [
        {"learning_rate": 0.01},
        {"learning_rate": ExponentialDecay(0.1, 3, 0.5)},
        {"learning_rate": PiecewiseConstantDecay([4], [0.1, 0.01])},
        {"learning_rate": ExponentialDecay(0.05, 2, 0.9, staircase=True)},
        {"learning_rate": PiecewiseConstantDecay([2, 6, 9], [0.2, 0.1, 0.05, 0.01])},
    ]
    fleet = SGD.for_members(rows)
    w0, grads = problem(members=len(rows))
    together = run_netfleet(fleet, w0, grads)
    for i, row in enumerate(rows):
        alone = run_netfleet(SGD(**row), w0[i : i + 1], grads[:, i : i + 1])
        np.testing.assert_array_equal(together[:, i : i + 1], alone)


def test_a_frozen_member_resumes_its_schedule_at_its_own_step_count():
    schedule = ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    w0, grads = problem(members=2)
    optimizer = SGD(learning_rate=schedule)
    data = torch.tensor(w0, dtype=torch.float32)
    optimizer.build(data)
    frozen_steps = range(3, 8)
    for step, g in enumerate(grads):
        active = torch.tensor([True, False]) if step in frozen_steps else None
        optimizer.apply(data, torch.tensor(g, dtype=torch.float32), active=active)
    assert optimizer.iterations.flatten().tolist() == [20.0, 15.0]
    seen = [step for step in range(len(grads)) if step not in frozen_steps]
    alone = run_netfleet(SGD(learning_rate=schedule), w0[1:2], grads[seen][:, 1:2])
    np.testing.assert_array_equal(data[1:2].double().numpy(), alone[-1])
    np.testing.assert_allclose(optimizer.current_learning_rates(), [0.1 * 0.5**10, 0.1 * 0.5**7.5])


def test_the_rates_are_computed_on_the_device_without_reading_back():
    # The meta device stands in for a GPU: reading a value back to the host fails there.
    for schedule in SCHEDULES:
        optimizer = Adam(learning_rate=schedule, weight_decay=0.1, clipnorm=1.0)
        data = torch.zeros(1, 5, device="meta")
        optimizer.build(data, [(0, 2), (2, 5)])
        optimizer.apply(data, torch.zeros(1, 5, device="meta"))
        assert optimizer.h["learning_rate"].device == data.device


def test_learning_rate_reads_the_rate_of_the_current_step():
    optimizer = SGD(learning_rate=ExponentialDecay([0.1, 0.4], decay_steps=1, decay_rate=0.5))
    assert optimizer.learning_rate == pytest.approx([0.1, 0.4])
    w0, grads = problem(members=2, steps=3)
    run_netfleet(optimizer, w0, grads)
    np.testing.assert_allclose(optimizer.learning_rate.numpy(), [0.0125, 0.05])


def test_a_scheduled_learning_rate_is_set_only_to_another_schedule():
    optimizer = SGD(learning_rate=ExponentialDecay(0.1, 10, 0.5))
    optimizer.build(torch.zeros(1, 3))
    with pytest.raises(InvalidTypeError, match="LearningRateSchedule"):
        optimizer.learning_rate = 0.01
    assert optimizer.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"
    optimizer.learning_rate = PiecewiseConstantDecay([1], [0.3, 0.2])
    assert optimizer.learning_rate == pytest.approx(0.3)


def test_a_user_schedule_works_in_memory_and_refuses_to_be_saved():
    class OneOverStep(LearningRateSchedule):
        def __call__(self, step):
            return 0.1 / (step + 1)

    w0, grads = problem()
    actual = run_netfleet(SGD(learning_rate=OneOverStep()), w0, grads)
    expected = run_formula(FORMULAS["SGD"], w0, grads, schedule=lambda step: 0.1 / (step + 1))
    assert_trajectories_close(actual, expected)
    with pytest.raises(InvalidArgumentError, match="never serializes code"):
        SGD(learning_rate=OneOverStep()).get_config()


# -- configs and files -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "learning_rate",
    [
        ExponentialDecay(0.1, 10, 0.5),
        CosineDecay([0.1, 0.05], 10, warmup_target=[None, 0.2]),
        [PiecewiseConstantDecay([2], [0.1, 0.01]), PiecewiseConstantDecay([3, 4], [0.3, 0.2, 0.1])],
    ],
)
def test_an_optimizer_with_a_schedule_round_trips_through_its_config_and_json(learning_rate):
    optimizer = Adam(learning_rate=learning_rate, beta_1=[0.8, 0.9])
    config = json.loads(json.dumps(optimizer.get_config()))
    assert Adam.from_config(config).get_config() == optimizer.get_config()
    clone = get(json.loads(json.dumps(serialize(optimizer))))
    assert clone.member_params == optimizer.member_params
    np.testing.assert_array_equal(
        clone.current_learning_rates(), optimizer.current_learning_rates()
    )
    for schedule in learning_rate if isinstance(learning_rate, list) else [learning_rate]:
        assert schedules.deserialize(schedules.serialize(schedule)) == schedule


def test_a_model_compiled_with_a_schedule_saves_loads_and_resumes(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)), rng.normal(size=(40, 1))

    def fitted():
        set_random_seed(0)
        model = Sequential([Dense(3, input_shape=(4,), activation="tanh"), Dense(1)], seed=0)
        schedule = ExponentialDecay([0.1, 0.05], decay_steps=3, decay_rate=0.7)
        model.compile(SGD(learning_rate=schedule, momentum=0.5), "mse")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        return model

    model = fitted()
    model.save(tmp_path / "model.keras")
    loaded = netfleet.load_model(tmp_path / "model.keras")
    assert loaded.member_params == [
        {"initial_learning_rate": 0.1},
        {"initial_learning_rate": 0.05},
    ]
    np.testing.assert_array_equal(
        loaded.optimizer.learning_rate.numpy(), model.optimizer.learning_rate.numpy()
    )
    resumed = loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    continued = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    np.testing.assert_allclose(resumed.history["loss"], continued.history["loss"], rtol=1e-6)


def test_models_with_schedules_stack_into_a_fleet_that_trains_as_the_singles():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(32, 4)), rng.normal(size=(32, 1))
    learning_rates = [ExponentialDecay(0.1, 2, 0.5), ExponentialDecay(0.05, 4, 0.9), 0.02]

    def single(learning_rate, seed):
        set_random_seed(seed)
        model = Sequential([Dense(3, input_shape=(4,), activation="tanh"), Dense(1)], seed=seed)
        model.compile(SGD(learning_rate=learning_rate), "mse")
        return model

    fleet = stack([single(rate, seed) for seed, rate in enumerate(learning_rates)])
    history = fleet.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for member, rate in enumerate(learning_rates):
        alone = single(rate, member).fit(x, y, batch_size=8, epochs=2, verbose=0)
        member_history = history.member(member).history["loss"]
        np.testing.assert_allclose(member_history, alone.history["loss"], rtol=1e-5)


# -- bad settings ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
        (lambda: InverseTimeDecay(0.1, 10, -1.0), "decay_rate"),
        (lambda: CosineDecay(0.1, 10, warmup_steps=-1), "warmup_steps"),
        (lambda: PiecewiseConstantDecay([5, 2], [1.0, 0.5, 0.1]), "boundaries"),
        (lambda: PiecewiseConstantDecay([5], [1.0]), "values"),
        (lambda: PiecewiseConstantDecay([[5], [6, 7]], [1.0, 0.1]), "values"),
        (lambda: ExponentialDecay([], 10, 0.5), "initial_learning_rate"),
        (lambda: ExponentialDecay(0.1, 10, 0.5, name=""), "name"),
    ],
)
def test_bad_settings_are_refused_with_the_library_sentence(make, argument):
    with pytest.raises(InvalidArgumentError, match=f"The '{argument}' argument of"):
        make()


def test_a_list_of_learning_rates_holds_single_member_schedules_only():
    swept = ExponentialDecay([0.1, 0.2], 10, 0.5)
    with pytest.raises(InvalidArgumentError, match="'learning_rate' argument of SGD"):
        SGD(learning_rate=[swept, 0.1])
    with pytest.raises(InvalidArgumentError, match="LearningRateSchedule"):
        SGD(learning_rate="fast")
