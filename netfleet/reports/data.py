"""Report values as JSON data: numbers, arrays and DataFrames to plain lists and dicts, and
DataFrames back, so a report can be rendered again from its `results.json`."""

import math

import numpy as np
import pandas as pd


def to_data(value):
    """`value` with NumPy scalars and arrays as Python numbers and lists, tuples as lists,
    and NaN or infinity as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_data(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def frame_to_data(frame):
    """A DataFrame as `{"index", "index_names", "columns", "column_names", "data"}`."""
    return to_data(
        {
            "index": [list(i) if isinstance(i, tuple) else i for i in frame.index],
            "index_names": list(frame.index.names),
            "columns": [list(c) if isinstance(c, tuple) else c for c in frame.columns],
            "column_names": list(frame.columns.names),
            "data": frame.to_numpy(dtype=object).tolist(),
        }
    )


def frame_from_data(data):
    """The DataFrame that `frame_to_data` described."""
    return pd.DataFrame(
        data["data"],
        index=_axis(data["index"], data["index_names"]),
        columns=_axis(data["columns"], data["column_names"]),
    )


def _axis(labels, names):
    if len(names) > 1:
        return pd.MultiIndex.from_tuples([tuple(label) for label in labels], names=names)
    return pd.Index(labels, name=names[0], dtype=object)
