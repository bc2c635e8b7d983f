"""What `NetClassifier` and `NetRegressor` share: scikit-learn's parameter contract with
routed parameters, the checks `fit` runs, building and compiling the model, `fit` itself.

A subclass says how it encodes `y` (`_encode`), which output activation and loss its task
takes by default, and how the encoded targets reach a given model (`_model_targets`).
"""

import contextlib
import copy
import inspect

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from netfleet.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    argument_error,
    check_positive_int,
)
from netfleet.fleet import routing
from netfleet.layers import Dense, Input
from netfleet.models import Model, Sequential
from netfleet.models.cloning import clone_model
from netfleet.ops import seeding

# Build arguments that describe the data: filled in when the build function names them,
# never set by the user.
META = ("n_features_in_", "n_outputs_", "output_activation_")


def mlp(
    n_features_in_, n_outputs_, output_activation_, hidden_layer_sizes=(100,), activation="relu"
):
    """The default model, shaped like scikit-learn's MLP defaults: `Dense` hidden layers of
    `hidden_layer_sizes` units and an output layer sized and activated for the task."""
    model = Sequential([Input(shape=(n_features_in_,))])
    for units in hidden_layer_sizes:
        model.add(Dense(units, activation=activation))
    model.add(Dense(n_outputs_, activation=output_activation_))
    return model


@contextlib.contextmanager
def seeded(seed):
    """Draw initial weights and model seeds from the global generator seeded with `seed`
    (as after `set_random_seed(seed)`), then give the generator its state back. With None,
    draw from the global generator as it stands."""
    if seed is None:
        yield
        return
    generator = seeding.global_generator()
    state = generator.get_state()
    generator.manual_seed(seed)
    try:
        yield
    finally:
        generator.set_state(state)


def _function_of(model, build_fn):
    """The build function that `model` / `build_fn` name (None for a Model instance)."""
    if isinstance(model, Model):
        return None
    return model if model is not None else build_fn if build_fn is not None else mlp


def build_kwargs(fn, routes, defaults, meta):
    """The keyword arguments to call `fn` with: the estimator's `defaults` (optimizer, loss,
    metrics) and the `meta` arguments that `fn` names, then the routed build arguments."""
    names, _ = routing.build_arguments(fn, META)
    kwargs = {k: v for k, v in defaults.items() if k in names and v is not None}
    kwargs.update({k: v for k, v in meta.items() if k in inspect.signature(fn).parameters})
    kwargs.update(routes.build)
    return kwargs


def _name(fn):
    return getattr(fn, "__name__", "model")


class BaseNetEstimator(BaseEstimator):
    """What `NetClassifier` and `NetRegressor` share.

    Args:
        model: A build function returning a netfleet `Model` (compiled or not), or a `Model`
            used as an architecture (each fit trains a fresh copy). Defaults to `mlp`.
        build_fn: Keras' name for the build function; give `model` or `build_fn`.
        optimizer: Used to compile an uncompiled model, and passed to a build function
            that takes `optimizer`. Defaults to `"adam"`.
        loss: Defaults to the task's: `binary_crossentropy` for a 1-unit classifier output,
            `categorical_crossentropy` for several units, `mean_squared_error` to regress.
        metrics: Compile metrics. Defaults to none.
        epochs: Defaults to `1`.
        batch_size: Defaults to `32`.
        verbose: `fit`'s verbosity. Defaults to `0`.
        validation_split: Fraction of the training rows held out (the last ones, as in
            Keras). Defaults to `0.0`.
        shuffle: Whether to reshuffle the rows every epoch. Defaults to `True`.
        seed: Makes fits repeatable: the initial weights and batch orders of a fit are
            those after `set_random_seed(seed)`. Defaults to `None` (fresh draws).
        callbacks: Keras callbacks for `fit`. Defaults to none.
        **routed: Build function arguments (`hidden_size=64` or `model__hidden_size=64`)
            and `optimizer__*`, `compile__*`, `fit__*` settings.
    """

    _y_numeric = False
    _encoding = ("n_features_in_", "feature_names_in_", "n_outputs_")

    def __init__(
        self,
        model=None,
        *,
        build_fn=None,
        optimizer="adam",
        loss=None,
        metrics=None,
        epochs=1,
        batch_size=32,
        verbose=0,
        validation_split=0.0,
        shuffle=True,
        seed=None,
        callbacks=None,
        **routed,
    ):
        self.model = model
        self.build_fn = build_fn
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.verbose = verbose
        self.validation_split = validation_split
        self.shuffle = shuffle
        self.seed = seed
        self.callbacks = callbacks
        for name, value in routed.items():
            if hasattr(type(self), name):
                raise InvalidTypeError(
                    f"{type(self).__name__} cannot take a parameter named {name!r}: it is the "
                    f"name of one of its attributes. Pass it as model__{name}."
                )
            setattr(self, name, value)

    # -- parameters --------------------------------------------------------------------------
    def _routed_names(self):
        own = set(self._get_param_names())
        return [k for k in vars(self) if k not in own and not k.startswith("_") and k[-1] != "_"]

    def get_params(self, deep=True):
        """The estimator's parameters, routed ones included."""
        params = super().get_params(deep=deep)
        params.update({name: getattr(self, name) for name in self._routed_names()})
        return params

    def set_params(self, **params):
        """Set parameters, including routed ones that the build function takes."""
        own = set(self._get_param_names())
        fn = _function_of(params.get("model", self.model), params.get("build_fn", self.build_fn))
        invalid = [
            k
            for k in params
            if k not in own
            and (hasattr(type(self), k) or not routing.accepts(k, fn, reserved=META))
        ]
        if invalid:
            names = routing.build_arguments(fn, META)[0]
            raise ValueError(
                f"Invalid parameters {invalid} for estimator {type(self).__name__}. Valid "
                f"parameters are: {sorted(own)}, the build function's arguments {names} (also "
                "as model__<name>), and names prefixed optimizer__, compile__ or fit__."
            )
        super().set_params(**{k: v for k, v in params.items() if k in own})
        for key, value in params.items():
            if key not in own:
                setattr(self, key, value)
        return self

    def _check_params(self):
        """Check the estimator's own parameters, as `fit` does before training."""
        owner = type(self).__name__
        check_positive_int(self.epochs, "epochs", owner, minimum=0)
        check_positive_int(self.batch_size, "batch_size", owner)
        split = self.validation_split
        if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 <= split < 1:
            raise argument_error("validation_split", owner, "a float in [0, 1)", split)
        if self.seed is not None:
            check_positive_int(self.seed, "seed", owner, minimum=0)
        if not isinstance(self.shuffle, bool):
            raise argument_error("shuffle", owner, "True or False", self.shuffle)
        if self.model is not None and self.build_fn is not None:
            raise InvalidArgumentError(f"{owner} takes a model or a build_fn, not both.")
        if not isinstance(self.model, Model) and not callable(
            _function_of(self.model, self.build_fn)
        ):
            raise argument_error("model", owner, "a build function or a netfleet Model", self.model)

    def _routes(self):
        fn = _function_of(self.model, self.build_fn)
        params = {name: getattr(self, name) for name in self._routed_names()}
        return fn, routing.route(params, fn, type(self).__name__, reserved=META)

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, y, **fit_params):
        """Build a fresh model and train it on `X`, `y`.

        Args:
            X: Features, shape `(n, n_features)`.
            y: Targets (see the class docstring for the forms each estimator takes).
            **fit_params: More arguments for `Model.fit` (e.g. `sample_weight`).

        Returns:
            self, with `model_` (the trained model) and `history_` (its `History`).
        """
        X, targets = self._prepare(X, y)
        model = self._build_model()
        targets = self._model_targets(model, targets)
        self.history_ = model.fit(X, targets, **self._fit_arguments(fit_params))
        self.model_ = model
        return self

    def _prepare(self, X, y):
        """Check the parameters and data, learn the target encoding; (X, encoded targets)."""
        self._check_params()
        X, y = validate_data(
            self, X, y, multi_output=True, dtype=np.float32, y_numeric=self._y_numeric
        )
        return X, self._encode(y)

    def _build_model(self):
        """A compiled model for the data `_prepare` saw, built as `seed` says."""
        fn, routes = self._routes()
        with seeded(self.seed):
            if fn is None:
                model = clone_model(self.model) if self.model.built else copy.deepcopy(self.model)
            else:
                defaults = {"optimizer": self.optimizer, "loss": self.loss, "metrics": self.metrics}
                meta = {
                    "n_features_in_": self.n_features_in_,
                    "n_outputs_": self.n_outputs_,
                    "output_activation_": self._output_activation(),
                }
                model = fn(**build_kwargs(fn, routes, defaults, meta))
            if not isinstance(model, Model):
                raise InvalidTypeError(
                    f"The build function {_name(fn)} must return a netfleet Model. "
                    f"Got {type(model).__name__}."
                )
            if not model.built:
                model.build((None, self.n_features_in_))
        if model.compiled is None:
            loss = self.loss if self.loss is not None else self._default_loss(model)
            settings = {"optimizer": self._optimizer(routes.optimizer), "loss": loss}
            model.compile(**settings, metrics=self.metrics, **routes.compile)
        elif routes.optimizer or routes.compile:
            names = [f"optimizer__{k}" for k in routes.optimizer]
            names += [f"compile__{k}" for k in routes.compile]
            raise InvalidArgumentError(
                f"The build function {_name(fn)} returns a compiled model, so {names} cannot "
                "apply: return an uncompiled model (the estimator compiles it) or make these "
                "settings arguments of the build function."
            )
        return model

    def _optimizer(self, hyperparameters):
        return routing.make_optimizer(self.optimizer, hyperparameters)

    def _fit_arguments(self, fit_params):
        """The keyword arguments of `Model.fit` (all but x and y)."""
        return {
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "verbose": self.verbose,
            "callbacks": list(self.callbacks or []),
            "validation_split": self.validation_split,
            "shuffle": self.shuffle,
            **self._routes()[1].fit,
            **fit_params,
        }

    def _copy_encoding(self, fitted):
        """Take the data description (`n_features_in_`, classes, ...) that `fitted` learned."""
        for name in self._encoding:
            if hasattr(fitted, name):
                setattr(self, name, getattr(fitted, name))

    # -- predicting --------------------------------------------------------------------------
    def _predict_raw(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float32)
        return self.model_.predict(X, verbose=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.seed is None
        return tags
