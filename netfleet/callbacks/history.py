"""`History`: what `fit` returns, with Keras' `history` dict and `epoch` list, and pandas
views of it (a wide frame like the notebook's `historydf`, and a long table)."""

import numpy as np

from netfleet import registry
from netfleet.callbacks.base import Callback


@registry.register("callback")
class History(Callback):
    """Per-epoch logs of a `fit` call.

    `history[key]` is a list with one entry per epoch: a float for a single model, a NumPy
    array of shape (M,) for a fleet (NaN where a member had already stopped).
    `member_params` holds the swept settings of each member, which label the frame's columns.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.member_params = [{}]

    def on_train_begin(self, logs=None):
        self.member_params = list(getattr(self.model, "member_params", [{}]))

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    @property
    def num_members(self):
        return len(self.member_params)

    def member(self, index):
        """A plain `History` of member `index`, its lists ending where the member stopped."""
        single = History()
        for key, values in self.history.items():
            column = [float(np.asarray(v).reshape(-1)[index]) for v in values]
            single.history[key] = column
        epochs = list(self.epoch)
        keep = [
            i
            for i, _ in enumerate(epochs)
            if not all(np.isnan(c[i]) for c in single.history.values())
        ]
        single.history = {k: [c[i] for i in keep] for k, c in single.history.items()}
        single.epoch = [epochs[i] for i in keep]
        single.member_params = [self.member_params[index]]
        return single

    def to_frame(self):
        """A DataFrame indexed by epoch: columns are the metrics for one model, and a
        MultiIndex (swept settings..., metric) for a fleet."""
        import pandas as pd

        if self.num_members == 1 or not self.history:
            return pd.DataFrame(
                {
                    k: [float(np.asarray(v).reshape(-1)[0]) for v in vals]
                    for k, vals in self.history.items()
                },
                index=pd.Index(self.epoch, name="epoch"),
            )
        labels = member_labels(self.member_params)
        keys = list(self.history)
        columns, data = [], []
        for member, label in enumerate(labels):
            for key in keys:
                columns.append((*label, key))
                data.append(
                    [np.asarray(v, dtype=float).reshape(-1)[member] for v in self.history[key]]
                )
        names = [*label_names(self.member_params), "metric"]
        frame = pd.DataFrame(np.array(data).T, index=pd.Index(self.epoch, name="epoch"))
        frame.columns = pd.MultiIndex.from_tuples(columns, names=names)
        return frame

    def to_long(self):
        """One row per member, epoch and metric, with the member's settings as columns."""
        import pandas as pd

        rows = []
        for member, params in enumerate(self.member_params):
            for key, values in self.history.items():
                for epoch, value in zip(self.epoch, values):
                    value = float(np.asarray(value, dtype=float).reshape(-1)[member])
                    if not np.isnan(value):
                        rows.append(
                            {
                                "member": member,
                                **params,
                                "epoch": epoch,
                                "metric": key,
                                "value": value,
                            }
                        )
        return pd.DataFrame(rows)


def label_names(member_params):
    names = []
    for params in member_params:
        names.extend(k for k in params if k not in names)
    return names or ["member"]


def member_labels(member_params):
    """Column labels of each member: its settings' values, or its index when there are none."""
    names = label_names(member_params)
    if names == ["member"] and not any(member_params):
        return [(i,) for i in range(len(member_params))]
    return [tuple(_hashable(p.get(n)) for n in names) for p in member_params]


def _hashable(value):
    return value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)
