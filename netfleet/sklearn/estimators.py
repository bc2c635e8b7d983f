"""scikit-learn estimators around netfleet models: `NetClassifier` and `NetRegressor`.

They follow scikit-learn's contract (`__init__` only stores, checks happen in `fit`, fitted
attributes end in `_`) so that `clone`, `cross_val_score`, `GridSearchCV` and
`netfleet.sklearn.FleetSearchCV` work on them. Parameters of the build function are
estimator parameters, routed by name (see `netfleet.fleet.routing`); the parameters they
share are documented on `netfleet.sklearn.base.BaseNetEstimator`.
"""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from netfleet.errors import InvalidArgumentError
from netfleet.sklearn.base import BaseNetEstimator


class NetClassifier(ClassifierMixin, BaseNetEstimator):
    """A scikit-learn classifier training a netfleet model.

    `y` may hold labels of any kind (`classes_` = the sorted distinct labels) or be one-hot
    encoded, shape `(n, k)` with one 1 per row (`classes_` = the column indices; `predict`
    then returns one-hot rows too). A 1-unit output is read as the probability of
    `classes_[1]`; a k-unit output as the probabilities of the k classes. The default loss
    follows the output: `binary_crossentropy` for 1 unit, `categorical_crossentropy` else.
    """

    _encoding = (*BaseNetEstimator._encoding, "classes_", "_one_hot")

    def _encode(self, y):
        if y.ndim == 2 and y.shape[1] > 1:
            if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
                raise InvalidArgumentError(
                    f"{type(self).__name__} takes y as labels of shape (n,) or one-hot rows "
                    f"(one 1 per row). Got y of shape {y.shape} that is not one-hot."
                )
            self.classes_, self._one_hot = np.arange(y.shape[1]), y.dtype
            labels = y.argmax(axis=1)
        else:
            y = column_or_1d(y, warn=True)
            check_classification_targets(y)
            self.classes_, labels = np.unique(y, return_inverse=True)
            self._one_hot = None
        if len(self.classes_) < 2:
            raise InvalidArgumentError(
                f"{type(self).__name__} needs at least 2 classes in y. Got 1 class: "
                f"{self.classes_[0]!r}."
            )
        binary = len(self.classes_) == 2 and self._one_hot is None
        self.n_outputs_ = 1 if binary else len(self.classes_)
        return labels

    def _output_activation(self):
        return "sigmoid" if self.n_outputs_ == 1 else "softmax"

    def _default_loss(self, model):
        return "binary_crossentropy" if model.output_shape[-1] == 1 else "categorical_crossentropy"

    def _model_targets(self, model, labels):
        """The labels in the form the model's loss and output take."""
        units, classes = model.output_shape[-1], len(self.classes_)
        if model.compiled.loss.labels == "integers":
            return labels
        if units == 1 and classes == 2:
            return labels.astype(np.float32)
        if units != classes:
            raise InvalidArgumentError(
                f"The model outputs {units} units, but y has {classes} classes: its last "
                f"layer needs {classes} units (or 1 for two classes)."
            )
        return np.eye(classes, dtype=np.float32)[labels]

    def predict_proba(self, X):
        """Class probabilities, shape `(n, len(classes_))` (two columns for two classes)."""
        raw = self._predict_raw(X)
        return np.column_stack([1 - raw[:, 0], raw[:, 0]]) if raw.shape[1] == 1 else raw

    def predict(self, X):
        """Predicted labels, or one-hot rows when the classifier was fitted on one-hot y."""
        index = self.predict_proba(X).argmax(axis=1)
        if self._one_hot is not None:
            return np.eye(len(self.classes_), dtype=self._one_hot)[index]
        return self.classes_[index]


class NetRegressor(RegressorMixin, BaseNetEstimator):
    """A scikit-learn regressor training a netfleet model (`mean_squared_error` loss by
    default); `y` of shape `(n,)` or `(n, k)`, and `predict` returns the same shape."""

    _y_numeric = True
    _encoding = (*BaseNetEstimator._encoding, "_target_ndim")

    def _encode(self, y):
        self._target_ndim = y.ndim
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        return np.asarray(y, dtype=np.float32).reshape(len(y), -1)

    def _output_activation(self):
        return "linear"

    def _default_loss(self, model):
        return "mean_squared_error"

    def _model_targets(self, model, targets):
        return targets

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X):
        """Predicted targets, shape `(n,)` or `(n, k)` as `y` was."""
        raw = self._predict_raw(X).astype(np.float64)
        return raw[:, 0] if self._target_ndim == 1 else raw
