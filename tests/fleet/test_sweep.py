"""Tests for netfleet.fleet.sweep and its routing: the notebook's four comparison loops as
one call each, checked against the same configurations trained one at a time."""

import numpy as np
import pytest

from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.fleet import SweepResult, routing, sweep
from netfleet.fleet.sweep import expand_grid
from netfleet.models.model import Model
from netfleet.optimizers import SGD, Adagrad, Adam, RMSprop
from netfleet.utils import set_random_seed

SEED = 0
COMPILE = {"loss": "binary_crossentropy", "metrics": ["accuracy"]}
OPTIMIZER_STRINGS = {  # the notebook's strings, and the optimizers they name
    "SGD(learning_rate=0.01)": lambda: SGD(learning_rate=0.01),
    "SGD(learning_rate=0.01, momentum=0.3)": lambda: SGD(learning_rate=0.01, momentum=0.3),
    "SGD(learning_rate=0.01, momentum=0.3, nesterov=True)": lambda: SGD(
        learning_rate=0.01, momentum=0.3, nesterov=True
    ),
    "Adam(learning_rate=0.01)": lambda: Adam(learning_rate=0.01),
    "Adagrad(learning_rate=0.01)": lambda: Adagrad(learning_rate=0.01),
    "RMSprop(learning_rate=0.01)": lambda: RMSprop(learning_rate=0.01),
}
INITIALIZERS = ["zeros", "uniform", "normal", "he_normal", "lecun_uniform"]

# grid, sweep arguments, expected batched runs, the separate run of a configuration
NOTEBOOK_SWEEPS = [
    pytest.param(
        {"learning_rate": [0.01, 0.05, 0.1, 0.5]},
        {"compile": {"optimizer": "sgd", **COMPILE}, "fit": {"batch_size": 16, "epochs": 10}},
        1,
        lambda c: {"optimizer": SGD(learning_rate=c["learning_rate"])},
        id="learning_rates",
    ),
    pytest.param(
        {"batch_size": [16, 32, 64, 128]},
        {"compile": {"optimizer": "sgd", **COMPILE}, "fit": {"epochs": 10}},
        1,
        lambda c: {"optimizer": "sgd", "batch_size": c["batch_size"]},
        id="batch_sizes",
    ),
    pytest.param(
        {"optimizer": list(OPTIMIZER_STRINGS)},
        {"compile": COMPILE, "fit": {"batch_size": 16, "epochs": 5}},
        1,
        lambda c: {"optimizer": OPTIMIZER_STRINGS[c["optimizer"]](), "epochs": 5},
        id="optimizers",
    ),
    pytest.param(
        {"kernel_initializer": INITIALIZERS},
        {"compile": {"optimizer": "rmsprop", **COMPILE}, "fit": {"batch_size": 16, "epochs": 5}},
        1,
        lambda c: {"build_kwargs": c, "optimizer": "rmsprop", "epochs": 5},
        id="initializers",
    ),
]


def fit_alone(build, data, build_kwargs=None, optimizer="sgd", batch_size=16, epochs=10, seed=SEED):
    """One configuration the notebook's way: seed, build, compile, fit."""
    X_train, _, y_train, _ = data
    set_random_seed(seed)
    model = build(**(build_kwargs or {}))
    model.compile(optimizer=optimizer, **COMPILE)
    history = model.fit(X_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0)
    return model, history


def assert_same_weights(model, other):
    for mine, theirs in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-7)


@pytest.fixture
def fit_calls(monkeypatch):
    """Counts calls of `Model.fit` (and still trains)."""
    calls = []
    original = Model.fit

    def counting_fit(self, *args, **kwargs):
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Model, "fit", counting_fit)
    return calls


# -- the notebook's four loops -----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("grid", "arguments", "runs", "alone"), NOTEBOOK_SWEEPS)
def test_notebook_sweep_reproduces_separate_runs(
    banknotes_split, build_model, fit_calls, grid, arguments, runs, alone
):
    X_train, _, y_train, _ = banknotes_split
    result = sweep(build_model, grid, X_train, y_train, seed=SEED, **arguments)

    assert isinstance(result, SweepResult)
    assert len(result.groups) == runs
    assert len(fit_calls) == runs
    (setting,) = grid
    assert result.configs == [{setting: value} for value in grid[setting]]
    frame = result.frame
    assert list(frame.columns.names) == [setting, "metric"]
    for index, config in enumerate(result.configs):
        model, history = fit_alone(build_model, banknotes_split, **alone(config))
        for metric, values in history.history.items():
            np.testing.assert_allclose(frame[(config[setting], metric)], values, rtol=1e-5)
            np.testing.assert_allclose(
                result.models[index].history.history[metric], values, rtol=1e-5
            )
        assert_same_weights(result.models[index], model)


def test_six_optimizers_form_one_run_and_each_keeps_its_kind(banknotes_split, build_model):
    X_train, _, y_train, _ = banknotes_split
    result = sweep(
        build_model,
        {"optimizer": list(OPTIMIZER_STRINGS)},
        X_train[:64],
        y_train[:64],
        compile=COMPILE,
        fit={"batch_size": 16},
        seed=SEED,
    )
    assert result.groups == [[0, 1, 2, 3, 4, 5]]
    kinds = [type(model.compiled.optimizer).__name__ for model in result.models]
    assert kinds == ["SGD", "SGD", "SGD", "Adam", "Adagrad", "RMSprop"]
    sgd_configs = [m.compiled.optimizer.member_config(0) for m in result.models[:3]]
    assert [(c["momentum"], c["nesterov"]) for c in sgd_configs] == [
        (0.0, False),
        (0.3, False),
        (0.3, True),
    ]


# -- epochs ---------------------------------------------------------------------------------------
def test_configurations_differing_in_epochs_share_one_run_and_stop_at_their_own_epoch(
    banknotes_split, build_model, fit_calls
):
    X_train, _, y_train, _ = banknotes_split
    epochs = [2, 5, 3]
    result = sweep(
        build_model,
        {"epochs": epochs},
        X_train,
        y_train,
        compile={"optimizer": SGD(learning_rate=0.1), **COMPILE},
        fit={"batch_size": 32},
        seed=SEED,
    )
    assert result.groups == [[0, 1, 2]]
    assert len(fit_calls) == 1
    for index, count in enumerate(epochs):
        model, history = fit_alone(
            build_model,
            banknotes_split,
            optimizer=SGD(learning_rate=0.1),
            batch_size=32,
            epochs=count,
        )
        assert_same_weights(result.models[index], model)
        assert result.models[index].history.epoch == list(range(count))
        np.testing.assert_allclose(
            result.histories[index]["loss"], history.history["loss"], rtol=1e-5
        )
    assert result.frame[(2, "loss")].isna().tolist() == [False, False, True, True, True]


# -- routing --------------------------------------------------------------------------------------
def test_settings_are_routed_by_name_in_order(build_model):
    names = [
        "units",
        "learning_rate",
        "beta_1",
        "optimizer",
        "loss",
        "batch_size",
        "epochs",
        "seed",
    ]
    routes = routing.route(dict.fromkeys(names, 1), build_model, "sweep", by_name=True)
    assert routes == routing.Routes(
        build={"units": 1},
        optimizer={"learning_rate": 1, "beta_1": 1},
        compile={"optimizer": 1, "loss": 1},
        fit={"batch_size": 1, "epochs": 1},
        seed={"seed": 1},
    )


def test_a_build_parameter_wins_and_kwargs_take_the_rest():
    def build(learning_rate, **options):
        raise AssertionError("not called")

    routes = routing.route({"learning_rate": 1, "dropout": 2, "momentum": 3}, build, "sweep")
    assert routes.build == {"learning_rate": 1, "dropout": 2, "momentum": 3}
    routes = routing.route(
        {"learning_rate": 1, "dropout": 2, "momentum": 3}, build, "sweep", by_name=True
    )
    assert routes.build == {"learning_rate": 1, "dropout": 2}
    assert routes.optimizer == {"momentum": 3}


def test_a_prefix_sends_a_name_to_one_place_and_wins_over_the_plain_name(build_model):
    settings = {"units": 1, "model__units": 2, "optimizer__learning_rate": 0.1, "fit__epochs": 3}
    routes = routing.route(settings, build_model, "sweep", by_name=True)
    assert routes.build == {"units": 2}
    assert routes.optimizer == {"learning_rate": 0.1}
    assert routes.fit == {"epochs": 3}
    with pytest.raises(InvalidArgumentError, match="'model__unit' \\(did you mean 'units'"):
        routing.route({"model__unit": 1}, build_model, "sweep", by_name=True)


def test_prefixed_settings_train_like_plain_ones(banknotes_split, build_model):
    X_train, _, y_train, _ = banknotes_split
    arguments = {"compile": {"optimizer": "sgd", **COMPILE}, "seed": SEED}
    plain = sweep(
        build_model, {"learning_rate": [0.1], "epochs": [2]}, X_train, y_train, **arguments
    )
    prefixed = sweep(
        build_model,
        {"optimizer__learning_rate": [0.1], "fit__epochs": [2]},
        X_train,
        y_train,
        **arguments,
    )
    assert prefixed.histories == plain.histories


def test_optimizer_and_its_hyperparameters_cross(banknotes_split, build_model):
    X_train, _, y_train, _ = banknotes_split
    result = sweep(
        build_model,
        {"optimizer": ["sgd", "adam"], "learning_rate": [0.01, 0.1]},
        X_train[:64],
        y_train[:64],
        compile=COMPILE,
        seed=SEED,
    )
    assert result.groups == [[0, 1, 2, 3]]
    configs = [
        (
            type(m.compiled.optimizer).__name__,
            m.compiled.optimizer.member_config(0)["learning_rate"],
        )
        for m in result.models
    ]
    assert configs == [("SGD", 0.01), ("SGD", 0.1), ("Adam", 0.01), ("Adam", 0.1)]


def test_batch_sizes_and_optimizer_kinds_cross_in_one_run(banknotes_split, build_model, fit_calls):
    X_train, _, y_train, _ = banknotes_split
    data = (X_train[:256], None, y_train[:256], None)
    grid = {"optimizer": ["sgd", "adam"], "batch_size": [16, 32, 64, 128]}
    result = sweep(build_model, grid, data[0], data[2], compile=COMPILE, fit={"epochs": 2}, seed=0)
    assert result.groups == [list(range(8))]
    assert len(fit_calls) == 1
    for index, config in enumerate(result.configs):
        model, history = fit_alone(build_model, data, epochs=2, **config)
        assert_same_weights(result.models[index], model)
        np.testing.assert_allclose(
            result.histories[index]["loss"], history.history["loss"], rtol=1e-5
        )


def test_seed_can_be_swept_and_each_member_starts_like_its_own_run(banknotes_split, build_model):
    X_train, _, y_train, _ = banknotes_split
    result = sweep(
        build_model,
        {"seed": [1, 2], "units": [1]},
        X_train[:64],
        y_train[:64],
        compile={"optimizer": "sgd", **COMPILE},
        fit={"epochs": 2},
    )
    assert result.groups == [[0, 1]]
    for index, seed in enumerate([1, 2]):
        model, _ = fit_alone(
            build_model,
            (X_train[:64], None, y_train[:64], None),
            epochs=2,
            seed=seed,
            batch_size=32,
        )
        assert_same_weights(result.models[index], model)
    assert not np.allclose(result.models[0].get_weights()[0], result.models[1].get_weights()[0])


def test_a_compiled_model_from_build_keeps_its_compile_settings(banknotes_split, build_model):
    X_train, _, y_train, _ = banknotes_split

    def build_compiled(units=1):
        model = build_model(units=units)
        model.compile(optimizer=Adam(learning_rate=0.02, beta_1=0.8), **COMPILE)
        return model

    result = sweep(build_compiled, {"beta_2": [0.9, 0.99]}, X_train[:64], y_train[:64], seed=SEED)
    configs = [m.compiled.optimizer.member_config(0) for m in result.models]
    assert [(c["learning_rate"], c["beta_1"], c["beta_2"]) for c in configs] == [
        (0.02, 0.8, 0.9),
        (0.02, 0.8, 0.99),
    ]
    assert result.metrics == ["loss", "accuracy"]


def test_explicit_configurations_may_set_different_names(banknotes_split, build_model):
    X_train, _, y_train, _ = banknotes_split
    grid = [{"learning_rate": 0.1}, {"optimizer": "adam", "units": 1}, {}]
    result = sweep(
        build_model, grid, X_train[:64], y_train[:64], compile={"optimizer": "sgd", **COMPILE}
    )
    assert result.configs == grid
    assert result.settings == ["learning_rate", "optimizer", "units"]
    assert [type(m.compiled.optimizer).__name__ for m in result.models] == ["SGD", "Adam", "SGD"]


def test_validation_data_logs_val_metrics_for_best(banknotes_split, build_model):
    X_train, X_test, y_train, y_test = banknotes_split
    result = sweep(
        build_model,
        {"learning_rate": [0.001, 0.5]},
        X_train,
        y_train,
        compile={"optimizer": "sgd", **COMPILE},
        fit={"batch_size": 64, "epochs": 3},
        validation_data=(X_test, y_test),
        seed=SEED,
    )
    assert result.metrics == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert result.best("val_accuracy") == {"learning_rate": 0.5}
    assert result.best_model("val_loss") is result.models[1]
    _, accuracy = result.models[1].evaluate(X_test, y_test, verbose=0)
    assert accuracy == pytest.approx(result.histories[1]["val_accuracy"][-1])


def test_sweep_is_silent_by_default(banknotes_split, build_model, capsys):
    X_train, _, y_train, _ = banknotes_split
    sweep(build_model, {"units": [1]}, X_train[:32], y_train[:32], compile=COMPILE)
    assert capsys.readouterr().out == ""


# -- optimizers named by strings --------------------------------------------------------------------
@pytest.mark.parametrize("text", list(OPTIMIZER_STRINGS))
def test_notebook_optimizer_strings_are_read_without_eval(text):
    optimizer = routing.make_optimizer(text)
    expected = OPTIMIZER_STRINGS[text]()
    assert type(optimizer) is type(expected)
    assert optimizer.member_config(0) == expected.member_config(0)


def test_optimizer_strings_take_positional_literals_and_any_case():
    optimizer = routing.make_optimizer("sgd(0.2, 0.5)")
    assert optimizer.member_config(0) == {
        "learning_rate": 0.2,
        "momentum": 0.5,
        "nesterov": False,
        "weight_decay": None,
        "clipnorm": None,
        "clipvalue": None,
        "global_clipnorm": None,
    }
    assert type(routing.make_optimizer("Adam")) is Adam


def test_an_optimizer_instance_is_copied_with_the_settings_on_top():
    original = SGD(learning_rate=0.05, momentum=0.2)
    optimizer = routing.make_optimizer(original, {"momentum": 0.9})
    assert optimizer is not original
    assert optimizer.member_config(0)["learning_rate"] == 0.05
    assert optimizer.member_config(0)["momentum"] == 0.9
    assert original.member_config(0)["momentum"] == 0.2


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "SGD(learning_rate=lr)",
        "SGD(learning_rate=0.1 * 2)",
        "Foo(learning_rate=0.1)",
        "SGD(**options)",
        "SGD(learning_rate=0.1",
        "torch.optim.SGD(lr=0.1)",
        "SGD(0.1, 0.2, True, None, None, None, None, 4)",
    ],
)
def test_unreadable_optimizer_strings_are_clear_errors(text):
    with pytest.raises(InvalidArgumentError, match="optimizer"):
        routing.make_optimizer(text)


# -- errors before training --------------------------------------------------------------------------
def sweep_errors(build, grid, data, **arguments):
    X_train, _, y_train, _ = data
    arguments.setdefault("compile", {"optimizer": "sgd", **COMPILE})
    return sweep(build, grid, X_train, y_train, **arguments)


@pytest.mark.parametrize(
    ("grid", "error", "message"),
    [
        ({}, InvalidArgumentError, "at least one configuration"),
        ([], InvalidArgumentError, "at least one configuration"),
        ({"learning_rate": []}, InvalidArgumentError, "non-empty list"),
        ({"learning_rate": 0.1}, InvalidArgumentError, "non-empty list"),
        ("learning_rate", InvalidTypeError, "dict of lists or a list of dicts"),
        ({"learnig_rate": [0.1]}, InvalidArgumentError, "did you mean 'learning_rate'"),
    ],
)
def test_bad_grids_fail_before_anything_is_built(banknotes_split, fit_calls, grid, error, message):
    built = []

    def build():
        built.append(1)
        raise AssertionError("not called")

    with pytest.raises(error, match=message):
        sweep_errors(build, grid, banknotes_split)
    assert built == []
    assert fit_calls == []


def test_unknown_setting_error_lists_the_valid_names(banknotes_split, build_model, fit_calls):
    with pytest.raises(InvalidArgumentError) as info:
        sweep_errors(build_model, {"colour": ["red"], "units": [1]}, banknotes_split)
    message = str(info.value)
    assert "'colour'" in message
    for name in ("kernel_initializer", "units", "learning_rate", "momentum", "batch_size", "seed"):
        assert name in message
    assert fit_calls == []


@pytest.mark.parametrize(
    ("grid", "compile_arguments", "fit_arguments", "message"),
    [
        ({"momentum": [0.9]}, {"optimizer": "adam"}, {}, "momentum"),
        ({"optimizer": ["adam"], "momentum": [0.0, 0.9]}, {}, {}, "Adam got unknown arguments"),
        ({"learning_rate": [0.1, -0.1]}, {}, {}, "must be a float > 0"),
        ({"optimizer": ["SGD(learning_rate=lr)"]}, {}, {}, "literals"),
        ({"optimizer": ["Sgd(learning_rate=0.1)", "Nadamm()"]}, {}, {}, "cannot be read"),
        ({"batch_size": [16, 0]}, {}, {}, "'batch_size' argument of sweep"),
        ({"epochs": [1.5]}, {}, {}, "'epochs' argument of sweep"),
        ({"seed": [-1]}, {}, {}, "'seed' argument of sweep"),
        ({"units": [1]}, {"loss": None}, {}, "No loss"),
        ({"units": [1]}, {}, {"validation_data": None}, "validation data is sweep's own"),
        ({"fit__verbose": [1]}, {}, {}, "'verbose' cannot be swept"),
    ],
)
def test_settings_that_cannot_be_applied_fail_before_training(
    banknotes_split, build_model, fit_calls, grid, compile_arguments, fit_arguments, message
):
    with pytest.raises(InvalidArgumentError, match=message):
        sweep_errors(
            build_model,
            grid,
            banknotes_split,
            compile={"optimizer": "sgd", **COMPILE, **compile_arguments},
            fit=fit_arguments,
        )
    assert fit_calls == []


def test_all_bad_configurations_are_reported_at_once(banknotes_split, build_model, fit_calls):
    with pytest.raises(InvalidArgumentError) as info:
        sweep_errors(build_model, {"learning_rate": [-1.0, 0.1, -2.0]}, banknotes_split)
    message = str(info.value)
    assert "configuration 0 {'learning_rate': -1.0}" in message
    assert "configuration 2 {'learning_rate': -2.0}" in message
    assert "configuration 1" not in message
    assert "nothing was trained" in message
    assert fit_calls == []


def test_build_must_return_a_single_model(banknotes_split, build_model, fit_calls):
    def build_fleet():
        model = build_model()
        model.compile(optimizer=SGD(learning_rate=[0.1, 0.2]), **COMPILE)
        return model

    with pytest.raises(InvalidArgumentError, match="must return a Model"):
        sweep_errors(lambda: "model", {"learning_rate": [0.1]}, banknotes_split)
    with pytest.raises(InvalidArgumentError, match="fleet of 2 members"):
        sweep_errors(
            build_fleet,
            {"loss": ["mse"]},
            banknotes_split,
            compile={},
        )
    assert fit_calls == []


# -- the grid ---------------------------------------------------------------------------------------
def test_a_dict_grid_is_crossed_with_the_last_setting_fastest():
    assert expand_grid({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ]
    assert expand_grid({"a": np.array([0.5, 1.0])}) == [{"a": 0.5}, {"a": 1.0}]
    assert type(expand_grid({"a": np.array([1])})[0]["a"]) is int
