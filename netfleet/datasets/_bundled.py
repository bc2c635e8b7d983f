"""Reads the small CSV data sets that ship inside the package, in ``data/``."""

from __future__ import annotations

import typing
from importlib import resources

import numpy as np

if typing.TYPE_CHECKING:
    import pandas as pd


def read_frame(filename: str) -> pd.DataFrame:
    """Returns the packaged ``data/<filename>`` read by ``pd.read_csv`` with its defaults."""
    import pandas as pd  # imported here: `import netfleet` does not pay for pandas

    with (resources.files(__package__) / "data" / filename).open("rb") as stream:
        return pd.read_csv(stream)


def split(frame: pd.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Splits ``frame`` into ``float64`` features (every other column, in order) and ``int64``
    labels (the ``target`` column)."""
    features = frame.drop(columns=target).to_numpy(dtype=np.float64)
    labels = frame[target].to_numpy(dtype=np.int64)
    return features, labels
