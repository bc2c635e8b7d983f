"""`sweep`: train every configuration of a grid, batching the ones that can share a run.

Each configuration is built as its own single model (seeded as a separate run would be),
compiled, and grouped with the configurations it can train with (`group_indices`: same
layer shapes, loss, metrics and fit settings but `epochs` and, for small models,
`batch_size`; any optimizer kinds). Each group is stacked into one fleet, fitted once up to
its largest `epochs` with each member's own batch size, and unstacked. A member with fewer
epochs is frozen at the end of its last one, so its trained weights and history are those a
separate run of its own length and batch size gives.
"""

import itertools

import numpy as np

from netfleet.callbacks.base import Callback
from netfleet.engine.training import DEFAULT_BATCH_SIZE
from netfleet.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    NetfleetError,
    argument_error,
    check_positive_int,
)
from netfleet.fleet import routing
from netfleet.fleet.grouping import group_indices
from netfleet.fleet.results import SweepResult
from netfleet.fleet.stack import stack, unstack
from netfleet.models.model import Model
from netfleet.ops.seeding import set_random_seed

FIT_OPTIONS = ("verbose", "callbacks", "sample_weight")


def sweep(build, grid, x, y, *, compile=None, fit=None, validation_data=None, seed=None):
    """Train one model per configuration of `grid`, as few batched runs as possible.

    Every setting is routed by name (see `netfleet.fleet.routing`): to `build` when it is
    one of its parameters, else to the optimizer (`learning_rate`, `momentum`, ...,
    `optimizer` itself: a name, an `Optimizer` or a string like
    `"SGD(learning_rate=0.01, momentum=0.3)"`), else to `compile` (`loss`, `metrics`), else
    to `fit` (`batch_size`, `epochs`, `shuffle`, `validation_split`, `class_weight`), else
    `seed`. Every configuration is checked before anything is trained.

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

    Returns:
        A `SweepResult` with the histories, the trained models and the groups.

    Raises:
        InvalidArgumentError: the grid is empty, a setting routes nowhere, or some
            configurations cannot be built, compiled or fitted (all are listed).

    Example:
        >>> result = sweep(build, {"learning_rate": [0.01, 0.1]}, x, y,
        ...                compile=dict(optimizer="sgd", loss="binary_crossentropy"),
        ...                fit=dict(batch_size=16, epochs=10), seed=0)  # doctest: +SKIP
        >>> result.frame.xs("loss", axis=1, level="metric")  # doctest: +SKIP
    """
    if not callable(build):
        raise argument_error("build", "sweep", "a function returning a model", build)
    configs = expand_grid(grid)
    routes = routing.route(list(dict.fromkeys(name for c in configs for name in c)), build)
    compile_arguments = _check_dict(compile, "compile")
    fit_arguments = _check_dict(fit, "fit")
    _check_fit_names(fit_arguments)
    options = {k: fit_arguments.pop(k) for k in FIT_OPTIONS if k in fit_arguments}
    options = {"verbose": 0, "validation_data": validation_data, **options}

    models, settings, problems = [], [], []
    for index, config in enumerate(configs):
        parts = _split(config, routes)
        try:
            settings.append(_fit_settings(fit_arguments, parts[routing.FIT]))
            models.append(_build(build, parts, compile_arguments, seed, np.shape(x)[1:]))
        except NetfleetError as error:
            problems.append(f"  configuration {index} {config}: {error}")
    if problems:
        raise InvalidArgumentError(
            "sweep cannot run these configurations (nothing was trained):\n" + "\n".join(problems)
        )

    groups = group_indices(models, settings, mix_batch_sizes=True)
    trained = [None] * len(configs)
    for group in groups:
        fleet = stack([models[i] for i in group], member_params=[configs[i] for i in group])
        epochs = [settings[i].get("epochs", 1) for i in group]
        sizes = [settings[i].get("batch_size", DEFAULT_BATCH_SIZE) for i in group]
        fit_settings = {
            **{k: v for k, v in settings[group[0]].items() if k not in ("epochs", "batch_size")},
            "batch_size": max(sizes),  # validation's, which any batch size gives
            "member_batch_sizes": sizes,
        }
        for index, model in zip(group, _run(fleet, epochs, x, y, {**options, **fit_settings})):
            trained[index] = model
    histories = [model.history.history for model in trained]
    return SweepResult(configs, histories, groups=groups, models=trained)


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


def _split(config, routes):
    """The settings of `config` by destination."""
    parts = {where: {} for where in routing.DESTINATIONS}
    for name, value in config.items():
        parts[routes[name]][name] = value
    return parts


def _fit_settings(shared, swept):
    """The fit settings of one configuration, with `batch_size` and `epochs` checked."""
    settings = {**shared, **swept}
    for name in ("batch_size", "epochs"):
        if name in settings:
            check_positive_int(settings[name], name, "sweep")
    return settings


def _build(build, parts, compile_arguments, seed, example_shape):
    """Build, seed and compile one configuration's single model."""
    seed = parts[routing.SEED].get("seed", seed)
    if seed is not None:
        set_random_seed(check_positive_int(seed, "seed", "sweep", minimum=0))
    model = build(**parts[routing.BUILD])
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
        own = {
            "optimizer": compiled.optimizer,
            "loss": compiled.loss,
            "metrics": compiled.metric_ids,
        }
    arguments = {**own, **compile_arguments, **parts[routing.COMPILE]}
    if arguments.get("loss") is None:
        raise InvalidArgumentError(
            "No loss to train with: pass compile=dict(loss=...) to sweep or compile the model "
            "in the build function."
        )
    arguments["optimizer"] = routing.make_optimizer(
        arguments.get("optimizer", "rmsprop"), parts[routing.HYPERPARAMETER]
    )
    model.compile(**arguments)
    return model


class _StopAtEpochs(Callback):
    """Freezes each member at the end of its own last epoch."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        done = [member for member, last in enumerate(self.epochs) if last == epoch + 1]
        if done:
            self.model.stop_members(done)


def _run(fleet, epochs, x, y, arguments):
    """Fit `fleet` up to the largest of its members' `epochs`, freezing each member after
    its own; the trained single models, each with its own `history`."""
    callbacks = [*arguments.pop("callbacks", []), _StopAtEpochs(epochs)]
    history = fleet.fit(x, y, epochs=max(epochs), callbacks=callbacks, **arguments)
    trained = unstack(fleet)
    for member, model in enumerate(trained):
        model.history = history.member(member)
    return trained
