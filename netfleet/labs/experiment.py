"""Running a user's experiment file: the data prepared as it asks, its sweep trained as
fleets with `netfleet.fleet.sweep`, a report written (see `experiment_file` for the keys).
"""

import importlib.util
import inspect
from pathlib import Path

import numpy as np
import pandas as pd

from netfleet import layers as layer_classes
from netfleet.errors import NetfleetError
from netfleet.fleet import sweep
from netfleet.fleet.routing import route
from netfleet.labs.experiment_file import BUNDLED, ExperimentError, load_experiment
from netfleet.labs.experiment_report import make_report
from netfleet.models import Model, Sequential
from netfleet.utils import set_random_seed


def run_experiment(path, *, overrides=(), out=None, progress):
    """Check the experiment file, train its sweep as fleets and write its report.

    Returns:
        The report folder's absolute `Path` (by default `netfleet-reports/<file stem>`).
    """
    experiment = load_experiment(path, overrides)
    data = prepare_data(experiment)
    build = model_builder(experiment, data)
    _check_model(experiment, build, data)
    progress.step(f"training {experiment['title']}")
    members = int(np.prod([len(v) for v in experiment["sweep"].values()]))
    fit = {**experiment["fit"], "callbacks": [progress.callback(members)]}
    validation = (data["X_test"], data["y_test"]) if len(data["X_test"]) else None
    try:
        result = sweep(
            build,
            experiment["sweep"],
            data["X_train"],
            data["y_train"],
            compile=experiment["compile"],
            fit=fit,
            validation_data=validation,
            seed=experiment["seed"],
        )
    except NetfleetError as err:
        raise ExperimentError(f"{path}: [sweep] cannot run: {err}") from None
    report = make_report(experiment, data, result, overrides)
    target = out if out is not None else Path("netfleet-reports") / Path(path).stem
    folder = report.write(target)
    progress.step(f"report written to {folder}")
    return folder


def prepare_data(experiment):
    """The data an experiment trains on: features scaled as asked, split into training and
    test rows. Classification: labels as integer codes (`classes` holds the original
    labels). Regression: the target as floats, scaled for training if asked
    (`target_scaler`; `y_test_units` keeps the test targets in their own units)."""
    from sklearn.model_selection import train_test_split

    spec, settings = experiment["data"], experiment["preprocessing"]
    if "name" in spec:
        module, bundled_target = BUNDLED[spec["name"]]
        frame, source, target = (
            module.load_frame(),
            spec["name"],
            spec.get("target", bundled_target),
        )
    else:
        csv = Path(experiment["folder"]) / spec["csv"]
        try:
            frame, source, target = pd.read_csv(csv), csv.name, spec["target"]
        except (OSError, ValueError) as err:
            raise ExperimentError(f"[data] csv: cannot read {str(csv)!r}: {err}") from None
    if target not in frame.columns:
        raise ExperimentError(
            f"[data] target: no column {target!r} in {source}. Columns: "
            f"{', '.join(map(str, frame.columns))}."
        )
    regression = spec["task"] == "regression"
    if regression and not pd.api.types.is_numeric_dtype(frame[target]):
        raise ExperimentError(
            f"[data] task: regression needs a numeric target; column {target!r} is not."
        )
    features = frame.drop(columns=[target])
    non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise ExperimentError(
            f"[data]: the feature columns must be numbers; {', '.join(map(str, non_numeric))} "
            "are not."
        )
    X = features.to_numpy(dtype=np.float32)
    if regression:
        classes, y = None, frame[target].to_numpy(dtype=np.float32)
    else:
        classes, y = np.unique(frame[target].to_numpy(), return_inverse=True)
    test_size = settings["test_size"]
    if test_size > 0:
        X_train, X_test, y_train, y_test = train_test_split(
            X,
            y,
            test_size=test_size,
            random_state=settings["random_state"],
            stratify=None if regression else y,
        )
    else:
        X_train, X_test, y_train, y_test = X, X[:0], y, y[:0]
    X_train, X_test, _ = _scaled(settings["scale"], X_train, X_test)
    y_test_units = y_test
    y_train, y_test, target_scaler = _scaled(settings["scale_target"], y_train, y_test)
    return {
        "task": spec["task"],
        "X_train": X_train,
        "X_test": X_test,
        "y_train": y_train,
        "y_test": y_test,
        "y_test_units": y_test_units,
        "target_scaler": target_scaler,
        "classes": classes,
        "features": [str(c) for c in features.columns],
        "target": target,
    }


def _scaled(scale, train, test):
    """`train` and `test` scaled by a scaler fitted on `train` (columns, or a vector as one
    column), and the scaler (`None` for `scale = "none"`)."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if scale == "none":
        return train, test, None
    scaler = (StandardScaler if scale == "standard" else MinMaxScaler)()

    def column(values):
        return values.reshape(len(values), -1)

    train_scaled = scaler.fit_transform(column(train)).astype(np.float32).reshape(train.shape)
    if len(test):
        test = scaler.transform(column(test)).astype(np.float32).reshape(test.shape)
    return train_scaled, test, scaler


def model_builder(experiment, data):
    """The build function `sweep` calls: from the `layers` list (taking the swept
    `<layer name>__<option>` settings as keyword arguments), or the user's own."""
    spec = experiment["model"]
    if "build" in spec:
        return _user_function(spec["build"], experiment["folder"])
    n_features = data["X_train"].shape[1]
    swept = [key for key in experiment["sweep"] if _layer_option(key, spec["layers"])]

    def build(**settings):
        model = Sequential()
        for index, entry in enumerate(spec["layers"]):
            options = {k: v for k, v in entry.items() if k != "type"}
            for key, value in settings.items():
                name, option = key.split("__", 1)
                if name == entry.get("name"):
                    options[option] = value
            if index == 0 and "input_shape" not in options and entry["type"] != "Input":
                options["input_shape"] = (n_features,)
            model.add(getattr(layer_classes, entry["type"])(**options))
        return model

    build.__signature__ = inspect.Signature(
        [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY) for key in swept]
    )
    return build


def _layer_option(key, layers):
    """Whether the sweep setting `key` is `<name>__<option>` of a named layer."""
    name = key.split("__", 1)[0] if "__" in key else None
    return name is not None and any(entry.get("name") == name for entry in layers)


def _user_function(reference, folder):
    file, _, name = reference.rpartition(":")
    path = Path(folder) / file
    if not path.is_file():
        raise ExperimentError(f"[model] build: no file {str(path)!r}.")
    spec = importlib.util.spec_from_file_location(f"netfleet_experiment_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise ExperimentError(f"[model] build: importing {file} failed: {err!r}") from err
    function = getattr(module, name, None)
    if not callable(function):
        raise ExperimentError(f"[model] build: {file} has no function {name!r}.")
    return function


def _check_model(experiment, build, data):
    """Route the sweep's settings and build the first configuration's model, before any
    training: the errors name [sweep] or [model]."""
    first = {key: values[0] for key, values in experiment["sweep"].items()}
    try:
        arguments = route(first, build, "sweep", by_name=True).build
    except NetfleetError as err:
        raise ExperimentError(f"{experiment['path']}: [sweep] {err}") from None
    set_random_seed(experiment["seed"])
    try:
        model = build(**arguments)
        if not isinstance(model, Model):
            raise ExperimentError(f"it returned {type(model).__name__}, not a netfleet Model")
        model.ensure_built(data["X_train"].shape[1:])
    except (NetfleetError, ValueError, TypeError) as err:
        raise ExperimentError(
            f"{experiment['path']}: [model] the model cannot be built: {err}"
        ) from None
    units = model.output_shape[-1]
    if data["task"] == "regression":
        if units != 1:
            raise ExperimentError(
                f"{experiment['path']}: [model] the last layer has {units} units, but a "
                "regression predicts one number per row: expected 1 unit (no activation, or a "
                "linear one)."
            )
        experiment["compile"].setdefault("loss", "mse")
        return
    classes = len(data["classes"])
    if units != classes and not (units == 1 and classes == 2):
        raise ExperimentError(
            f"{experiment['path']}: [model] the last layer has {units} units, but the target "
            f"has {classes} classes: expected {classes} units"
            + (" (or 1 with a sigmoid)" if classes == 2 else "")
            + "."
        )
    if "loss" not in experiment["compile"]:
        loss = "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
        experiment["compile"]["loss"] = loss
