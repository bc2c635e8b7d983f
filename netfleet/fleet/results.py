"""`SweepResult`: a sweep's histories as data, and views of them.

The data is one history per configuration (a dict metric -> per-epoch values) with the
configuration's settings. The wide `frame` is the notebook's `historydf`, the long `table`
has one row per configuration, epoch and metric; both are rebuilt from that data, so a
result saved to JSON and loaded again gives them back without retraining.
"""

import json
import math
import os

import numpy as np

from netfleet.callbacks.history import label_names, member_labels
from netfleet.errors import InvalidArgumentError, argument_error
from netfleet.saving.atomic import write_atomically

FORMAT = "netfleet.sweep"
VERSION = 1


class SweepResult:
    """What `sweep` returns: one history per configuration, in configuration order.

    Args:
        configs: The configuration dicts (setting name -> value).
        histories: Per configuration, a dict metric -> list of per-epoch values.
        groups: Lists of configuration indices trained as one batched run. Defaults to one
            run per configuration.
        models: The trained single models, in configuration order. Defaults to `None` (a
            loaded result has none).
        pruned: Per configuration, the epoch a pruned sweep stopped it at, or None where it
            trained all its epochs. Defaults to `None` (nothing pruned).
    """

    def __init__(self, configs, histories, groups=None, models=None, pruned=None):
        if len(configs) != len(histories):
            raise InvalidArgumentError(
                f"SweepResult needs one history per configuration ({len(configs)}). "
                f"Got {len(histories)}."
            )
        self.configs = [dict(config) for config in configs]
        self.histories = [
            {key: [float(v) for v in values] for key, values in history.items()}
            for history in histories
        ]
        self.groups = [[i] for i in range(len(configs))] if groups is None else groups
        self.groups = [list(group) for group in self.groups]
        self.models = models
        self.pruned = [None] * len(configs) if pruned is None else list(pruned)

    @property
    def settings(self):
        """The names of the swept settings, in first-seen order."""
        return list(dict.fromkeys(name for config in self.configs for name in config))

    @property
    def metrics(self):
        """The logged metrics (`loss`, `accuracy`, `val_loss`, ...), in first-seen order."""
        return list(dict.fromkeys(key for history in self.histories for key in history))

    @property
    def frame(self):
        """A DataFrame indexed by epoch, with columns (settings..., metric), like the
        notebook's `historydf`; NaN past the last epoch of a shorter configuration."""
        import pandas as pd  # only here: `import netfleet` stays light

        epochs = max((len(v) for h in self.histories for v in h.values()), default=0)
        columns, data = [], []
        for label, history in zip(member_labels(self.configs), self.histories):
            for metric, values in history.items():
                columns.append((*label, metric))
                data.append(values + [math.nan] * (epochs - len(values)))
        frame = pd.DataFrame(
            np.array(data, dtype=float).reshape(len(columns), epochs).T,
            index=pd.Index(range(epochs), name="epoch"),
        )
        names = [*label_names(self.configs), "metric"]
        frame.columns = pd.MultiIndex.from_tuples(columns, names=names)
        return frame

    @property
    def table(self):
        """A tidy DataFrame: one row per configuration, epoch and metric, with columns
        `config` (its index), one per setting, `epoch`, `metric` and `value`."""
        import pandas as pd  # only here: `import netfleet` stays light

        settings = self.settings
        rows = []
        for index, (config, history) in enumerate(zip(self.configs, self.histories)):
            labels = {name: _as_data(config.get(name)) for name in settings}
            for metric, values in history.items():
                for epoch, value in enumerate(values):
                    rows.append(
                        {
                            "config": index,
                            **labels,
                            "epoch": epoch,
                            "metric": metric,
                            "value": value,
                        }
                    )
        return pd.DataFrame(rows, columns=["config", *settings, "epoch", "metric", "value"])

    def best_index(self, metric=None, mode="auto"):
        """The index of the configuration with the best final value of `metric`.

        Args:
            metric: A logged metric. Defaults to `"val_loss"` if logged, else `"loss"`.
            mode: `"min"`, `"max"` or `"auto"` (`"max"` for names with `acc` or `auc`, as
                the callbacks decide). Defaults to `"auto"`.
        """
        if metric is None:
            metric = "val_loss" if "val_loss" in self.metrics else "loss"
        if metric not in self.metrics:
            raise InvalidArgumentError(
                f"No metric {metric!r} in this sweep's histories. Logged: "
                f"{', '.join(self.metrics)} (val_ metrics need validation data)."
            )
        if mode not in ("auto", "min", "max"):
            raise argument_error("mode", "SweepResult.best", "'auto', 'min' or 'max'", mode)
        if mode == "auto":
            name = metric.removeprefix("val_")
            mode = "max" if "acc" in name or "auc" in name else "min"
        finals = np.array([(h.get(metric) or [math.nan])[-1] for h in self.histories])
        if np.isnan(finals).all():
            raise InvalidArgumentError(f"Every configuration ended with {metric} = NaN.")
        return int(np.nanargmax(finals) if mode == "max" else np.nanargmin(finals))

    def best(self, metric=None, mode="auto"):
        """The settings of the best configuration (see `best_index`)."""
        return dict(self.configs[self.best_index(metric, mode)])

    def best_model(self, metric=None, mode="auto"):
        """The trained model of the best configuration (see `best_index`)."""
        if self.models is None:
            raise InvalidArgumentError(
                "This result holds no models (results are saved without them): run the sweep "
                "again, or rebuild the best configuration from best()."
            )
        return self.models[self.best_index(metric, mode)]

    def save(self, filepath):
        """Write the result as JSON, atomically. Setting values that are not numbers,
        strings, booleans or None (an `Optimizer`, a list) are saved as their `repr`."""
        document = {
            "format": FORMAT,
            "version": VERSION,
            "configs": [{k: _as_data(v) for k, v in c.items()} for c in self.configs],
            "groups": self.groups,
            "histories": self.histories,
            "pruned": self.pruned,
        }
        text = json.dumps(document, indent=1)
        write_atomically(filepath, lambda file: file.write(text.encode("utf-8")))

    @classmethod
    def load(cls, filepath):
        """Read a result written by `save` (its models are not part of it)."""
        try:
            with open(filepath, encoding="utf-8") as file:
                document = json.load(file)
        except json.JSONDecodeError:
            document = None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise InvalidArgumentError(
                f"{os.fspath(filepath)!r} is not a sweep result written by SweepResult.save."
            )
        if document.get("version", 0) > VERSION:
            raise InvalidArgumentError(
                f"{os.fspath(filepath)!r} was written by a newer netfleet (format version "
                f"{document['version']}; this one reads up to {VERSION})."
            )
        return cls(
            document["configs"],
            document["histories"],
            groups=document["groups"],
            pruned=document.get("pruned"),
        )

    def plot(self, metrics=("loss", "accuracy"), ax=None):
        """One panel per metric, one curve per configuration: the notebook's figure.

        Args:
            metrics: A metric name or several. Defaults to `("loss", "accuracy")`.
            ax: A matplotlib Axes, or one per metric. Defaults to a new 12 x 8 figure.

        Returns:
            The matplotlib Figure.
        """
        import matplotlib.pyplot as plt

        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        missing = [m for m in metrics if m not in self.metrics]
        if missing:
            raise InvalidArgumentError(
                f"Cannot plot {', '.join(map(repr, missing))}: not logged. "
                f"Logged: {', '.join(self.metrics)}."
            )
        if ax is None:
            figure, axes = plt.subplots(len(metrics), 1, figsize=(12, 8), squeeze=False)
            axes = list(axes[:, 0])
        else:
            axes = list(np.ravel(ax))
            figure = axes[0].figure
            if len(axes) != len(metrics):
                raise argument_error(
                    "ax", "SweepResult.plot", f"{len(metrics)} Axes (one per metric)", ax
                )
        frame = self.frame
        for axis, metric in zip(axes, metrics):
            frame.xs(metric, axis=1, level="metric").plot(ax=axis)
            axis.set_title(metric.replace("_", " ").capitalize())
        axes[-1].set_xlabel("Epochs")
        if ax is None:
            figure.tight_layout()
        return figure

    def __repr__(self):
        return (
            f"<SweepResult configs={len(self.configs)} runs={len(self.groups)} "
            f"metrics={self.metrics}>"
        )


def _as_data(value):
    """`value` itself when it is a JSON scalar, else its `repr` (as frame labels are)."""
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)
