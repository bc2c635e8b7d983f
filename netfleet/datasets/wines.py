"""Wine (UCI, Forina et al.): which of three cultivars (1, 2 or 3) a wine comes from.

178 wines, each described by 13 chemical measurements (``Alcohol``, ``Malic_acid``, ...,
``Proline``); 59, 71 and 48 wines of classes 1, 2 and 3. The same data as scikit-learn's
``load_wine``, with the classes numbered from 1 as in the CSV. The CSV ships inside the
package, so loading needs no network.
"""

from __future__ import annotations

import typing

import numpy as np

from netfleet.datasets import _bundled

if typing.TYPE_CHECKING:
    import pandas as pd

__all__ = ["load_data", "load_frame"]

_FILENAME = "wines.csv"
_TARGET = "Class"


def load_frame() -> pd.DataFrame:
    """Returns the data set as the DataFrame ``pd.read_csv`` gives for the CSV.

    Returns:
        A new DataFrame of 178 rows: ``Class`` (int64, 1, 2 or 3) then the 13 measurements.

    Example:
        >>> from netfleet.datasets import wines
        >>> wines.load_frame().shape
        (178, 14)
    """
    return _bundled.read_frame(_FILENAME)


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """Returns the data set as arrays ``(X, y)``.

    Returns:
        ``X``, float64 of shape ``(178, 13)``, the measurements in the CSV's column order,
        and ``y``, int64 of shape ``(178,)``, the ``Class`` column (1, 2 or 3).

    Example:
        >>> from netfleet.datasets import wines
        >>> X, y = wines.load_data()
        >>> X.shape, sorted(set(y.tolist()))
        ((178, 13), [1, 2, 3])
    """
    return _bundled.split(load_frame(), _TARGET)
