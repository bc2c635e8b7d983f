"""Banknote authentication (UCI, Lohweg 2013): is a banknote genuine (0) or forged (1)?

1,372 banknotes, each described by four wavelet features of its image: ``variace`` [sic],
``skewness``, ``curtosis`` and ``entropy``; 762 are genuine and 610 forged. The CSV ships
inside the package, so loading needs no network.
"""

from __future__ import annotations

import typing

import numpy as np

from netfleet.datasets import _bundled

if typing.TYPE_CHECKING:
    import pandas as pd

__all__ = ["load_data", "load_frame"]

_FILENAME = "banknotes.csv"
_TARGET = "class"


def load_frame() -> pd.DataFrame:
    """Returns the data set as the DataFrame ``pd.read_csv`` gives for the CSV.

    Returns:
        A new DataFrame of 1,372 rows and the columns ``variace``, ``skewness``,
        ``curtosis``, ``entropy`` (float64) and ``class`` (int64, 0 genuine, 1 forged).

    Example:
        >>> from netfleet.datasets import banknotes
        >>> banknotes.load_frame().shape
        (1372, 5)
    """
    return _bundled.read_frame(_FILENAME)


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """Returns the data set as arrays ``(X, y)``.

    Returns:
        ``X``, float64 of shape ``(1372, 4)``, the four features in the CSV's column order,
        and ``y``, int64 of shape ``(1372,)``, the ``class`` column (0 genuine, 1 forged).

    Example:
        >>> from netfleet.datasets import banknotes
        >>> X, y = banknotes.load_data()
        >>> X.shape, int(y.sum())
        ((1372, 4), 610)
    """
    return _bundled.split(load_frame(), _TARGET)
