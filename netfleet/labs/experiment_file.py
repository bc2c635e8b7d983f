"""Reading a user's experiment file (TOML): every key checked before anything trains, all
problems reported at once with the key, its line and what was expected.

    title = "Banknotes: learning rates"
    seed = 42
    [data]
    name = "banknotes"            # a bundled set (banknotes, wines), or:
    # csv = "my.csv"              # a CSV file beside the experiment file
    # target = "label"            # its target column (a bundled set's own by default)
    # task = "regression"         # a number per row: mse loss, R² and MAE in the report
    [preprocessing]
    scale = "standard"            # "standard", "minmax" or "none"
    test_size = 0.3               # held out, used as validation data and for the evaluation
    # scale_target = "standard"   # regression: the target scaled for training (the default)
    [model]
    layers = [{type = "Dense", units = 8, activation = "relu"},
              {type = "Dense", units = 1, activation = "sigmoid"}]
    # build = "model.py:make_model"   # or a function in a local file, called per configuration
    [compile]
    optimizer = "sgd"
    [fit]
    epochs = 10
    batch_size = 16
    [sweep]
    learning_rate = [0.01, 0.05, 0.1, 0.5]
    # hidden__units = [4, 8, 16]  # a named layer's option: {type = "Dense", name = "hidden", ...}

The sweep's settings are routed as `netfleet.fleet.sweep` routes them (optimizer
hyperparameters, `optimizer`, `batch_size`, `epochs`, `seed`, a build function's own
arguments), and `<layer name>__<option>` sweeps an option of a named layer of `layers`.
`--set fit.epochs=5` style overrides replace values before the checks.
"""

import re
import tomllib
from pathlib import Path

from netfleet import layers as layer_classes
from netfleet.datasets import banknotes, wines
from netfleet.errors import InvalidArgumentError, NetfleetError
from netfleet.fleet.routing import PREFIXES

BUNDLED = {"banknotes": (banknotes, "class"), "wines": (wines, "Class")}
LAYER_TYPES = sorted(set(layer_classes.__all__) - {"Layer", "InputLayer", "Input"})
SCALERS = ("standard", "minmax", "none")
TASKS = ("classification", "regression")
FIT_KEYS = {"epochs": int, "batch_size": int, "shuffle": bool, "validation_split": float}
TABLES = {
    "data": {"name", "csv", "target", "task"},
    "preprocessing": {"scale", "test_size", "random_state", "scale_target"},
    "model": {"layers", "build"},
    "compile": {"optimizer", "loss", "metrics"},
    "fit": set(FIT_KEYS),
}
TOP_LEVEL = {"title", "seed", "sweep", *TABLES}


class ExperimentError(InvalidArgumentError):
    """An experiment file that cannot run; the message lists every problem found."""


def load_experiment(path, overrides=()):
    """Read, override and check an experiment file.

    Args:
        path: The TOML file.
        overrides: `"dotted.key=value"` strings; the value is read as TOML (a bare word is
            a string).

    Returns:
        The checked experiment as a dict (defaults filled in), with `"path"` and `"folder"`.

    Raises:
        ExperimentError: the file is not valid TOML, or any key is unknown or has a value
            that cannot be used (all problems are listed, with the line where found).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ExperimentError(f"Cannot read the experiment file {str(path)!r}: {err}.") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ExperimentError(f"{path}: not valid TOML: {err}.") from None
    overridden = {_apply_override(raw, override, path) for override in overrides}
    checker = _Checker(path, text, overridden)
    experiment = checker.check(raw)
    checker.raise_problems()
    return {**experiment, "path": str(path), "folder": str(path.parent.absolute())}


def _apply_override(raw, override, path):
    key, sep, text = override.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*", key.strip()):
        raise ExperimentError(
            f"--set {override!r}: expected dotted.key=value, e.g. fit.epochs=5 or "
            "sweep.learning_rate=[0.01,0.1]."
        )
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        value = text
    *tables, name = key.strip().split(".")
    node = raw
    for table in tables:
        node = node.setdefault(table, {})
        if not isinstance(node, dict):
            raise ExperimentError(f"--set {override!r}: {table!r} in {path} is not a table.")
    node[name] = value
    return ".".join(tables), name


class _Checker:
    """Checks a parsed experiment, collecting every problem with its key and line."""

    def __init__(self, path, text, overridden=()):
        self.path = path
        self.lines = text.splitlines()
        self.overridden = set(overridden)
        self.problems = []

    def problem(self, table, key, expected, got):
        where = f"[{table}] {key}" if table else key
        name = key.split("[")[0].split(".")[0]
        line = self._line(table, name)
        at = " (from --set)" if (table, name) in self.overridden else ""
        at = at or (f" (line {line})" if line else "")
        self.problems.append(f"{where}{at}: expected {expected}, got {got!r}")

    def raise_problems(self):
        if self.problems:
            raise ExperimentError(
                f"{self.path} cannot run (nothing was trained):\n  " + "\n  ".join(self.problems)
            )

    def check(self, raw):
        self.task = "classification"
        self.named_layers = {}
        for key in raw:
            if key not in TOP_LEVEL:
                self.problem("", key, f"one of {', '.join(sorted(TOP_LEVEL))}", key)
        for table, allowed in TABLES.items():
            value = raw.get(table, {})
            if not isinstance(value, dict):
                self.problem("", table, "a table", value)
                raw[table] = {}
                continue
            for key in value:
                if key not in allowed:
                    self.problem(table, key, f"one of {', '.join(sorted(allowed))}", key)
        title = raw.get("title", self.path.stem)
        if not isinstance(title, str):
            self.problem("", "title", "a string", title)
        seed = raw.get("seed", 42)
        if not _is_int(seed) or seed < 0:
            self.problem("", "seed", "an integer >= 0", seed)
        return {
            "title": str(title),
            "seed": seed,
            "data": self._data(raw.get("data", {})),
            "preprocessing": self._preprocessing(raw.get("preprocessing", {})),
            "model": self._model(raw.get("model", {})),
            "compile": self._compile(raw.get("compile", {})),
            "fit": self._fit(raw.get("fit", {})),
            "sweep": self._sweep(raw.get("sweep", {}), seed),
        }

    def _data(self, data):
        data = {"task": "classification", **data}
        if data["task"] in TASKS:
            self.task = data["task"]
        else:
            self.problem("data", "task", f"one of {', '.join(TASKS)}", data["task"])
        if ("name" in data) == ("csv" in data):
            self.problem("data", "name", "either name (a bundled set) or csv (a file)", data)
        elif "name" in data and data["name"] not in BUNDLED:
            self.problem("data", "name", f"one of {', '.join(BUNDLED)}", data["name"])
        elif "csv" in data:
            if not isinstance(data["csv"], str):
                self.problem("data", "csv", "a file path (a string)", data["csv"])
            if not isinstance(data.get("target"), str):
                self.problem("data", "target", "the target column's name", data.get("target"))
        if "name" in data and "target" in data and not isinstance(data["target"], str):
            self.problem("data", "target", "a column's name", data["target"])
        return data

    def _preprocessing(self, settings):
        regression = self.task == "regression"
        settings = {
            "scale": "standard",
            "test_size": 0.3,
            "random_state": 42,
            "scale_target": "standard" if regression else "none",
            **settings,
        }
        for key in ("scale", "scale_target"):
            if settings[key] not in SCALERS:
                self.problem("preprocessing", key, f"one of {', '.join(SCALERS)}", settings[key])
        if not regression and settings["scale_target"] != "none":
            self.problem(
                "preprocessing",
                "scale_target",
                "'none' for a classification (set [data] task = 'regression' to scale a "
                "continuous target)",
                settings["scale_target"],
            )
        size = settings["test_size"]
        if not _is_number(size) or not 0 <= size < 1:
            self.problem("preprocessing", "test_size", "a number in [0, 1)", size)
        if not _is_int(settings["random_state"]):
            self.problem("preprocessing", "random_state", "an integer", settings["random_state"])
        return settings

    def _model(self, model):
        if ("layers" in model) == ("build" in model):
            self.problem("model", "layers", "either layers (a list) or build = 'file.py:f'", model)
            return dict(model)
        if "build" in model:
            build = model["build"]
            if not isinstance(build, str) or not re.fullmatch(r".+\.py:[A-Za-z_]\w*", build):
                self.problem("model", "build", "'file.py:function'", build)
            return dict(model)
        layers = model["layers"]
        if not isinstance(layers, list) or not layers:
            self.problem("model", "layers", "a non-empty list of layer tables", layers)
            return dict(model)
        for index, entry in enumerate(layers):
            key = f"layers[{index}]"
            if not isinstance(entry, dict):
                self.problem("model", key, '{type = "Dense", units = 8, ...}', entry)
            elif entry.get("type") not in LAYER_TYPES:
                self.problem(
                    "model", f"{key}.type", f"one of {', '.join(LAYER_TYPES)}", entry.get("type")
                )
            elif self._layer("model", key, entry, entry) and isinstance(entry.get("name"), str):
                self.named_layers[entry["name"]] = entry
        return dict(model)

    def _layer(self, table, key, entry, shown):
        """Build the layer `entry` describes, as a check; whether it could be built."""
        options = {k: v for k, v in entry.items() if k != "type"}
        if "input_shape" in options:
            options["input_shape"] = tuple(options["input_shape"])
            entry["input_shape"] = options["input_shape"]
        try:
            getattr(layer_classes, entry["type"])(**options)
        except TypeError as err:
            self.problem(table, key, f"the arguments of {entry['type']} ({err})", shown)
        except (NetfleetError, ValueError) as err:
            self.problem(table, key, f"a valid {entry['type']} ({err})", shown)
        else:
            return True
        return False

    def _compile(self, settings):
        settings = dict(settings)
        settings.setdefault("optimizer", "rmsprop")
        settings.setdefault("metrics", ["mae"] if self.task == "regression" else ["accuracy"])
        for key in ("optimizer", "loss"):
            if key in settings and not isinstance(settings[key], str):
                self.problem(
                    "compile", key, "a name, e.g. 'adam' or 'SGD(learning_rate=0.1)'", settings[key]
                )
        metrics = settings["metrics"]
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            self.problem("compile", "metrics", "a list of metric names", metrics)
        return settings

    def _fit(self, settings):
        settings = {"epochs": 10, "batch_size": 32, **settings}
        for key, kind in FIT_KEYS.items():
            if key not in settings:
                continue
            value = settings[key]
            if kind is int and (not _is_int(value) or value < 1):
                self.problem("fit", key, "an integer >= 1", value)
            elif kind is bool and not isinstance(value, bool):
                self.problem("fit", key, "true or false", value)
            elif kind is float and (not _is_number(value) or not 0 <= value < 1):
                self.problem("fit", key, "a number in [0, 1)", value)
        return settings

    def _sweep(self, grid, seed):
        if not isinstance(grid, dict):
            self.problem("", "sweep", "a table of setting = [values]", grid)
            return {"seed": [seed]}
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                self.problem("sweep", key, "a non-empty list of values", values)
            elif "__" in key and not key.startswith(tuple(PREFIXES)):
                self._layer_option(key, values)
        return dict(grid) if grid else {"seed": [seed]}

    def _layer_option(self, key, values):
        """A swept `<layer name>__<option>`: a named layer of `layers`, built with each value."""
        name, option = key.split("__", 1)
        if name not in self.named_layers:
            names = ", ".join(self.named_layers) or "none: give a layer name = '...'"
            self.problem("sweep", key, f"<layer name>__<option>, a layer named one of {names}", key)
            return
        for value in values:
            entry = {**self.named_layers[name], option: value}
            self._layer("sweep", key, entry, value)

    def _line(self, table, key):
        """The 1-based line where `key` is set in `[table]` (or at the top), if found."""
        in_table = not table
        for number, line in enumerate(self.lines, 1):
            stripped = line.strip()
            if stripped.startswith("["):
                in_table = stripped.strip("[] ") == table
            elif in_table and re.match(rf"{re.escape(key)}\s*=", stripped):
                return number
        return None


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
