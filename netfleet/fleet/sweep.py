"""`sweep`: train every configuration of a grid, batching the ones that can share a run.

Each configuration is built as its own single model (seeded as a separate run would be),
compiled, and grouped with the configurations it can train with (`group_indices`: same
layer shapes, loss, metrics and fit settings but `epochs` and, for small models,
`batch_size`; any optimizer kinds). The fleet runner (`netfleet.fleet.runner`) trains each
group as one fleet up to its largest `epochs`, with each member's own batch size, and
freezes a member with fewer epochs at the end of its last one, so its trained weights and
history are those a separate run of its own length and batch size gives. The groups train in
this process or as Ray tasks (`executor`), and a results directory keeps each finished group
so that the same sweep started again resumes (`results_dir`). With `prune`, the
configurations train by successive halving (`netfleet.fleet.halving`): ranked by a logged
metric at each rung, the worst stop there and the rest train on.
"""

import itertools

import numpy as np

from netfleet import config as netfleet_config
from netfleet.engine.training import DEFAULT_BATCH_SIZE
from netfleet.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    NetfleetError,
    argument_error,
    check_positive_int,
)
from netfleet.fleet import executors, routing
from netfleet.fleet.durable import ResultStore
from netfleet.fleet.grouping import group_indices
from netfleet.fleet.halving import Halving
from netfleet.fleet.results import SweepResult
from netfleet.fleet.runner import Group, Member, run_groups
from netfleet.models.model import Model
from netfleet.ops.seeding import set_random_seed

FIT_OPTIONS = ("verbose", "callbacks", "sample_weight")


def sweep(
    build,
    grid,
    x,
    y,
    *,
    compile=None,
    fit=None,
    validation_data=None,
    seed=None,
    executor="local",
    ray_address=None,
    results_dir=None,
    prune=None,
    device=None,
):
    """Train one model per configuration of `grid`, as few batched runs as possible.

    Every setting is routed by name (see `netfleet.fleet.routing`): to `build` when it is
    one of its parameters, else to the optimizer (`learning_rate`, `momentum`, ...,
    `optimizer` itself: a name, an `Optimizer` or a string like
    `"SGD(learning_rate=0.01, momentum=0.3)"`), else to `compile` (`loss`, `metrics`), else
    to `fit` (`batch_size`, `epochs`, `shuffle`, `validation_split`, `class_weight`), else
    `seed`. A prefix sends a name to one place (`model__learning_rate`,
    `optimizer__learning_rate`). Every configuration is checked before anything is trained.

    Args:
        build: A function returning a built `Model`, compiled or not; called once per
            configuration with the settings that are its parameters.
        grid: A dict of lists (crossed, in order: the last key varies fastest) or a list of
            dicts (explicit configurations).
        x: Training features.
        y: Training targets.
        compile: `compile` arguments shared by all configurations (they replace those of a
            model that `build` compiled). Defaults to the model's own.
        fit: `fit` arguments shared by all configurations (`batch_size`, `epochs`, `shuffle`,
            `validation_split`, `class_weight`, `sample_weight`, `verbose`, `callbacks`).
            Defaults to Keras' (`epochs=1`), with `verbose=0`.
        validation_data: `(x_val, y_val)` evaluated after each epoch. Defaults to `None`.
        seed: Passed to `set_random_seed` before each build, so that every configuration
            starts from the weights a separate run seeded so would. A swept `seed` setting
            replaces it. Defaults to `None` (no reseeding).
        executor: Where the groups train: `"local"` (this process, one after another),
            `"ray"` (one Ray task each, see `netfleet.fleet.executors.RayExecutor`) or an
            executor object. Defaults to `"local"`.
        ray_address: The Ray cluster to use with `executor="ray"` when this process is
            not connected to one yet. Defaults to `None` (a local Ray instance).
        results_dir: A folder that keeps every finished group; the same sweep started
            again with it resumes, reading the finished groups back instead of training
            them (see `netfleet.fleet.durable`). Defaults to `None`.
        prune: Successive halving: a `netfleet.fleet.halving.Halving` or a dict of its
            arguments, e.g. `dict(metric="val_loss", factor=3, min_epochs=1)`. At each rung
            the configurations still training are ranked by `metric` and the worst
            `1 - 1/factor` of them stop there; the others train on, to `epochs` at the
            end. Every configuration trains the same `epochs` (do not sweep them). Defaults
            to `None`: every configuration trains all its epochs.
        device: Where the groups train in this process: `"cpu"`, `"cuda"`, `"cuda:N"` or
            `"auto"` (see `netfleet.config`). Ray tasks use their own workers' devices.
            Defaults to `None`: the current choice (`netfleet.config.get_device()`).

    Returns:
        A `SweepResult` with the histories, the trained models and the groups. With
        `prune`, its `pruned` lists, per configuration, the epoch at which it was stopped
        (its history ends there), or `None` for those that trained all their epochs.

    Raises:
        InvalidArgumentError: the grid is empty, a setting routes nowhere, some
            configurations cannot be built, compiled or fitted (all are listed), or
            `results_dir` holds the results of another sweep.
        ImportError: `executor="ray"` and Ray is not installed.

    Example:
        >>> result = sweep(build, {"learning_rate": [0.01, 0.1]}, x, y,
        ...                compile=dict(optimizer="sgd", loss="binary_crossentropy"),
        ...                fit=dict(batch_size=16, epochs=10), seed=0)  # doctest: +SKIP
        >>> result.frame.xs("loss", axis=1, level="metric")  # doctest: +SKIP
    """
    if not callable(build):
        raise argument_error("build", "sweep", "a function returning a model", build)
    if device is not None:
        netfleet_config.resolve(device, "device", "sweep")  # a bad device, before any build
    configs = expand_grid(grid)
    runner = executors.resolve(executor, ray_address, "sweep")
    halving = None if prune is None else Halving.of(prune)
    if halving is not None and results_dir is not None:
        raise InvalidArgumentError(
            "sweep cannot keep a pruned sweep in results_dir (its rungs depend on one another): "
            "pass prune or results_dir."
        )
    store = None if results_dir is None else ResultStore(results_dir, {"seed": seed})
    names = dict.fromkeys(name for config in configs for name in config)
    routing.route(names, build, "sweep", by_name=True)  # every unknown name, before any build
    compile_arguments = _check_dict(compile, "compile")
    fit_arguments = _check_dict(fit, "fit")
    _check_fit_names(fit_arguments)
    options = {k: fit_arguments.pop(k) for k in FIT_OPTIONS if k in fit_arguments}
    options = {"verbose": 0, "validation_data": validation_data, **options}

    models, settings, problems = [], [], []
    for index, config in enumerate(configs):
        routes = routing.route(config, build, "sweep", by_name=True)
        try:
            settings.append(_fit_settings(fit_arguments, routes.fit))
            models.append(_build(build, routes, compile_arguments, seed, np.shape(x)[1:]))
        except NetfleetError as error:
            problems.append(f"  configuration {index} {config}: {error}")
        except Exception as error:  # the build function's own: raised as it is, located
            error.add_note(f"While building configuration {index} {config}.")
            raise
    if problems:
        raise InvalidArgumentError(
            "sweep cannot run these configurations (nothing was trained):\n" + "\n".join(problems)
        )

    members = [
        Member(
            key=index,
            epochs=setting.get("epochs", 1),
            batch_size=setting.get("batch_size", DEFAULT_BATCH_SIZE),
            params=config,
        )
        for index, (config, setting) in enumerate(zip(configs, settings))
    ]
    groups = group_indices(models, settings, mix_batch_sizes=True)
    runs = [_group(indices, models, members, settings, x, y, options) for indices in groups]
    with netfleet_config.device_scope(device, "sweep"):
        if halving is not None:
            return _pruned(halving, configs, groups, runs, settings, runner)
        trained = [None] * len(configs)
        for result in run_groups(runs, executor=runner, store=store, progress=True):
            for key, model in zip(result.keys, result.models):
                trained[key] = model
    histories = [model.history.history for model in trained]
    return SweepResult(configs, histories, groups=groups, models=trained)


def _pruned(halving, configs, groups, runs, settings, runner):
    """The sweep's result when its configurations train by successive halving."""
    epochs = {setting.get("epochs", 1) for setting in settings}
    if len(epochs) > 1:
        raise InvalidArgumentError(
            f"sweep's prune ranks configurations that train the same epochs; these train "
            f"{sorted(epochs)}. Do not sweep 'epochs' with prune: the rungs share them out."
        )
    validated = any(
        run.fit.get("validation_data") is not None or run.fit.get("validation_split")
        for run in runs
    )
    schedule = halving.schedule(len(configs), epochs.pop(), validated)
    trained, pruned = halving.run(runs, schedule, executor=runner)
    models = [trained[key] for key in range(len(configs))]
    histories = [model.history.history for model in models]
    return SweepResult(
        configs, histories, groups, models, [pruned[key] for key in range(len(configs))]
    )


def expand_grid(grid):
    """The list of configurations (dicts) that `grid` describes.

    Args:
        grid: A dict of non-empty lists (crossed with `itertools.product`, first key
            slowest) or a list of dicts.
    """
    if isinstance(grid, dict):
        if not grid:
            raise _empty_grid(grid)
        columns = {}
        for name, values in grid.items():
            values = values.tolist() if isinstance(values, np.ndarray) else values
            if not isinstance(values, (list, tuple)) or not values:
                raise argument_error(
                    f"grid[{name!r}]", "sweep", "a non-empty list of values", values
                )
            columns[name] = list(values)
        configs = [dict(zip(columns, combo)) for combo in itertools.product(*columns.values())]
    elif isinstance(grid, (list, tuple)) and all(isinstance(c, dict) for c in grid):
        if not grid:
            raise _empty_grid(grid)
        configs = [dict(c) for c in grid]
    else:
        raise argument_error(
            "grid", "sweep", "a dict of lists or a list of dicts", grid, error=InvalidTypeError
        )
    for name in (name for config in configs for name in config):
        if not isinstance(name, str):
            raise argument_error("grid", "sweep", "keyed by setting names (str)", name)
    return configs


def _empty_grid(grid):
    return argument_error(
        "grid", "sweep", "at least one configuration, e.g. {'learning_rate': [0.01, 0.1]}", grid
    )


def _check_dict(value, name):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise argument_error(name, "sweep", "a dict of arguments", value, error=InvalidTypeError)
    return dict(value)


def _check_fit_names(arguments):
    valid = [*routing.FIT_SETTINGS, *FIT_OPTIONS]
    unknown = [name for name in arguments if name not in valid]
    if unknown:
        raise InvalidArgumentError(
            f"The 'fit' argument of sweep got {', '.join(map(repr, unknown))}, which sweep "
            f"cannot pass on (validation data is sweep's own argument). Valid: {', '.join(valid)}."
        )


def _fit_settings(shared, swept):
    """The fit settings of one configuration, with their names, `batch_size` and `epochs`
    checked."""
    unknown = [name for name in swept if name not in routing.FIT_SETTINGS]
    if unknown:
        raise InvalidArgumentError(
            f"The fit settings {', '.join(map(repr, unknown))} cannot be swept. "
            f"Valid: {', '.join(routing.FIT_SETTINGS)}."
        )
    settings = {**shared, **swept}
    for name in ("batch_size", "epochs"):
        if name in settings:
            check_positive_int(settings[name], name, "sweep")
    return settings


def _build(build, routes, compile_arguments, seed, example_shape):
    """Build, seed and compile one configuration's single model."""
    seed = routes.seed.get("seed", seed)
    if seed is not None:
        set_random_seed(check_positive_int(seed, "seed", "sweep", minimum=0))
    model = build(**routes.build)
    if not isinstance(model, Model):
        raise InvalidTypeError(f"The build function must return a Model. Got {model!r}.")
    model.ensure_built(example_shape)
    if model.num_members != 1:
        raise InvalidArgumentError(
            f"The build function returned a fleet of {model.num_members} members; sweep "
            "needs single models (sweep their settings instead)."
        )
    own = {}
    if model.compiled is not None:
        compiled = model.compiled
        own = {"optimizer": compiled.optimizer, **compiled.arguments()}
    arguments = {**own, **compile_arguments, **routes.compile}
    if arguments.get("loss") is None:
        raise InvalidArgumentError(
            "No loss to train with: pass compile=dict(loss=...) to sweep or compile the model "
            "in the build function."
        )
    arguments["optimizer"] = routing.make_optimizer(
        arguments.get("optimizer", "rmsprop"), routes.optimizer
    )
    model.compile(**arguments)
    return model


def _group(indices, models, members, settings, x, y, options):
    """The runner's `Group` of the configurations `indices`."""
    shared = {k: v for k, v in settings[indices[0]].items() if k not in ("epochs", "batch_size")}
    return Group(
        models=[models[i] for i in indices],
        members=[members[i] for i in indices],
        x=x,
        y=y,
        fit={**shared, **options},
    )
