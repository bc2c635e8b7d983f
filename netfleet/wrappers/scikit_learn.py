"""`KerasClassifier` and `KerasRegressor` as Keras 2's `keras.wrappers.scikit_learn` had
them, for code written against that module.

They are `netfleet.sklearn.NetClassifier` and `NetRegressor` (so `GridSearchCV`,
`cross_val_score` and `FleetSearchCV` take them, and they take the estimators' parameters
too: `seed`, `optimizer`, ...) with Keras 2's behaviour where it differs from
scikit-learn's conventions, which the `netfleet.sklearn` estimators keep:

- `KerasClassifier(build_fn=None, **sk_params)`: `sk_params` are arguments of the build
  function or of `fit`, `predict` and `evaluate`; any other name is an error at once.
- `fit(x, y, **kwargs)` returns the `History` of the training, and `.model` is the trained
  model (the estimators return `self` and keep the model in `model_`).
- `KerasRegressor.score` is the negative loss that `evaluate` reports (the estimators'
  is R²); `KerasClassifier.score` is the accuracy `evaluate` reports, so the model must be
  compiled with `metrics=["accuracy"]`, as Keras 2 asked.
- `KerasClassifier.predict` gives labels from `classes_`, class indices when `y` was one-hot
  (`classes_` is then `0 .. k-1`), where the estimator gives one-hot rows back; one label per
  row, shape `(n,)` (Keras 2 gave a one-unit model's labels as a column `(n, 1)`).
- `KerasRegressor.predict` drops a last axis of size 1.

Example:
    >>> import numpy as np
    >>> from netfleet.layers import Dense
    >>> from netfleet.models import Sequential
    >>> def make_model(hidden_size=8):
    ...     model = Sequential([Dense(hidden_size, input_shape=(2,)), Dense(1)])
    ...     model.compile(optimizer="sgd", loss="mse")
    ...     return model
    >>> X = np.random.default_rng(0).normal(size=(32, 2))
    >>> regressor = KerasRegressor(build_fn=make_model, hidden_size=4, epochs=2, verbose=0)
    >>> history = regressor.fit(X, X.sum(axis=1))
    >>> len(history.history["loss"]), regressor.model.layers[0].units
    (2, 4)
    >>> regressor.score(X, X.sum(axis=1)) == -regressor.model.evaluate(X, X.sum(axis=1), verbose=0)
    True
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from netfleet.errors import InvalidArgumentError
from netfleet.fleet import routing
from netfleet.sklearn.base import META, BaseNetEstimator, mlp
from netfleet.sklearn.estimators import NetClassifier, NetRegressor

# The arguments of Keras 2's `Sequential.fit`, `predict` and `evaluate` that `sk_params`
# may hold: those that are not the estimators' own parameters go to `fit` as `fit__<name>`.
_FIT_ONLY = (
    "validation_data",
    "class_weight",
    "sample_weight",
    "initial_epoch",
    "steps_per_epoch",
    "validation_steps",
)
_PREDICT = ("batch_size", "verbose", "steps")
_EVALUATE = ("batch_size", "verbose", "sample_weight", "steps")
_ACCURACY = ("accuracy", "acc")  # Keras 2 read the metric of either name


class _KerasWrapper:
    """What Keras 2's wrappers did alike: the constructor and its parameter check, `fit`
    returning the history, `.model`, and `predict` / `evaluate` arguments in `sk_params`."""

    def __init__(self, build_fn=None, **sk_params):
        super().__init__(build_fn=build_fn, **sk_params)
        self._check_legal(sk_params, build_fn)

    @classmethod
    def _get_param_names(cls):
        return sorted(set(BaseNetEstimator._get_param_names()) - {"model"})

    @property
    def model(self):
        """The trained model, as Keras 2's `.model` (None before `fit`)."""
        return vars(self).get("model_")

    @model.setter
    def model(self, value):
        if value is not None:
            raise InvalidArgumentError(
                f"{type(self).__name__} takes its build function as build_fn, as Keras 2's "
                "wrapper did; its .model is the trained model. To train a copy of a model "
                "instance, use netfleet.sklearn.NetClassifier or NetRegressor(model=...)."
            )

    def set_params(self, **params):
        """Set `sk_params` (checked as the constructor checks them)."""
        self._check_legal(params, params.get("build_fn", self.build_fn))
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def fit(self, x, y, **kwargs):
        """Build a fresh model with the build function and train it on `x`, `y`.

        Args:
            x: Features, shape `(n, n_features)`.
            y: Targets.
            **kwargs: Arguments of `Model.fit`, over those in `sk_params`.

        Returns:
            The `History` of the training, as Keras 2 returned it.
        """
        vars(self).pop("model_", None)  # `model` reads None while the new one is built
        super().fit(x, y, **kwargs)
        return self.history_

    def _build_function(self, build_fn=None):
        """The build function: `build_fn`, else the class's own `__call__` (Keras 2's way
        of writing one in a subclass), else netfleet's default network."""
        build_fn = self.build_fn if build_fn is None else build_fn
        if build_fn is not None:
            return build_fn
        if any("__call__" in vars(cls) for cls in type(self).__mro__[:-1]):
            return self.__call__
        return mlp

    def _routes(self):
        build_fn = self._build_function()
        settings = {}
        for name in self._routed_names():
            to_fit = name in _FIT_ONLY and not routing.accepts(name, build_fn, reserved=META)
            settings[f"fit__{name}" if to_fit else name] = getattr(self, name)
        return build_fn, routing.route(settings, build_fn, type(self).__name__, reserved=META)

    def _check_legal(self, params, build_fn):
        """Keras 2's check of `sk_params`: each must be an argument of the build function,
        of `fit`, `predict` or `evaluate`, or one of the estimator's own parameters."""
        build_fn = self._build_function(build_fn)
        known = {*self._get_param_names(), *_FIT_ONLY, *_PREDICT, *_EVALUATE}
        for name in params:
            if name not in known and not routing.accepts(name, build_fn, reserved=META):
                arguments = routing.build_arguments(build_fn, META)[0]
                raise InvalidArgumentError(
                    f"{name} is not a legal parameter of {type(self).__name__}: a parameter "
                    f"must be an argument of the build function ({', '.join(arguments)}) or "
                    f"of fit, predict or evaluate, or one of {', '.join(sorted(known))}."
                )

    def _call_arguments(self, names, kwargs):
        """`sk_params` among `names` (the arguments of `predict` or `evaluate`), then
        `kwargs` over them, as Keras 2 filtered them."""
        params = self.get_params()
        arguments = {name: params[name] for name in names if params.get(name) is not None}
        return {**arguments, **kwargs}

    def _predict_raw(self, X, **kwargs):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float32)
        return self.model_.predict(X, **self._call_arguments(_PREDICT, kwargs))

    def _evaluate(self, X, targets, kwargs):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float32)
        arguments = self._call_arguments(_EVALUATE, kwargs)
        return self.model_.evaluate(X, targets, return_dict=True, **arguments)


class KerasClassifier(_KerasWrapper, NetClassifier):
    """Keras 2's scikit-learn classifier around a build function (see the module
    docstring); `classes_` and `n_classes_` as Keras 2 set them."""

    _encoding = (*NetClassifier._encoding, "n_classes_")

    def _encode(self, y):
        labels = super()._encode(y)
        self.n_classes_ = len(self.classes_)
        return labels

    def predict(self, x, **kwargs):
        """Labels from `classes_`, shape `(n,)`.

        Args:
            x: Features, shape `(n, n_features)`.
            **kwargs: Arguments of `Model.predict`.
        """
        return self.classes_[self.predict_proba(x, **kwargs).argmax(axis=1)]

    def predict_proba(self, x, **kwargs):
        """Class probabilities, shape `(n, n_classes_)`: two columns for a one-unit
        (sigmoid) model, `1 - p` and `p`."""
        raw = self._predict_raw(x, **kwargs)
        return np.column_stack([1 - raw[:, 0], raw[:, 0]]) if raw.shape[1] == 1 else raw

    def score(self, x, y, **kwargs):
        """The accuracy that `evaluate` reports on `x`, `y`.

        Raises:
            ValueError: the model was not compiled with an accuracy metric.
        """
        check_is_fitted(self, "model_")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            labels = y.argmax(axis=1)
        else:
            labels = np.searchsorted(self.classes_, column_or_1d(y))
        logs = self._evaluate(x, self._model_targets(self.model_, labels), kwargs)
        for name in _ACCURACY:
            if name in logs:
                return logs[name]
        raise InvalidArgumentError(
            "The model is not configured to compute accuracy. You should pass "
            '`metrics=["accuracy"]` to the `model.compile()` method.'
        )


class KerasRegressor(_KerasWrapper, NetRegressor):
    """Keras 2's scikit-learn regressor around a build function (see the module
    docstring)."""

    def predict(self, x, **kwargs):
        """Predictions, the last axis dropped when it has size 1.

        Args:
            x: Features, shape `(n, n_features)`.
            **kwargs: Arguments of `Model.predict`.
        """
        predictions = self._predict_raw(x, **kwargs)
        return np.squeeze(predictions, axis=-1) if predictions.shape[-1] == 1 else predictions

    def score(self, x, y, **kwargs):
        """The negative of the loss that `evaluate` reports on `x`, `y` (Keras 2's score:
        higher is better, as scikit-learn's searches expect)."""
        targets = np.asarray(y, dtype=np.float32)
        targets = targets.reshape(len(targets), -1)
        return -self._evaluate(x, targets, kwargs)["loss"]


__all__ = ["KerasClassifier", "KerasRegressor"]
