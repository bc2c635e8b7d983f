"""MNIST handwritten digits (LeCun, Cortes and Burges), loaded like ``keras.datasets.mnist``.

The four original gzip IDX files are looked for in this order, the first complete set wins:

1. ``path=``: a folder holding the four files, or a folder holding ``mnist/`` with them. If
   it holds neither, ``load_data`` raises rather than looking elsewhere.
2. ``$NETFLEET_DATA``: a data folder holding ``mnist/`` (or the four files themselves).
3. The cache ``$NETFLEET_CACHE/mnist`` (``NETFLEET_CACHE`` defaults to ``~/.cache/netfleet``);
   files missing there are downloaded once, from the first of ``MIRRORS`` that serves a
   verified copy, and written atomically.

Every load checks each file in full: gzip integrity, IDX magic number and dimensions, data
size, and the sha256 of the uncompressed contents. Hashing adds about 0.03 s to the 0.15 s
of decompression, so it is done every time instead of being cached: a file edited, truncated
or swapped after its download is still caught.
"""

from __future__ import annotations

import os

import numpy as np

from netfleet.datasets import _files, _idx
from netfleet.datasets._download import DatasetUnavailableError

__all__ = ["MIRRORS", "DatasetUnavailableError", "load_data"]

MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)

# File name -> (shape its IDX header declares, sha256 of its uncompressed contents).
_FILES = {
    "train-images-idx3-ubyte.gz": (
        (60000, 28, 28),
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train-labels-idx1-ubyte.gz": (
        (60000,),
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "t10k-images-idx3-ubyte.gz": (
        (10000, 28, 28),
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        (10000,),
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}


def load_data(
    path: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the MNIST dataset: 70,000 grayscale 28x28 images of the digits 0-9.

    Args:
        path: A folder holding the four ``.gz`` files, or a folder holding ``mnist/`` with
            them. Defaults to ``None``: look in ``$NETFLEET_DATA``, then in the cache, and
            download into the cache what is missing.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``, writable ``uint8`` arrays:
        ``x_train`` of shape ``(60000, 28, 28)`` and ``y_train`` of shape ``(60000,)``,
        ``x_test`` of shape ``(10000, 28, 28)`` and ``y_test`` of shape ``(10000,)``.
        Pixels are 0-255 and labels 0-9, as in ``keras.datasets.mnist.load_data()``.

    Raises:
        TypeError: ``path`` is not a str, an ``os.PathLike`` or ``None``.
        FileNotFoundError: ``path`` does not hold the four files.
        ValueError: A file is not valid gzip or IDX, is truncated, or fails its sha256 check.
        DatasetUnavailableError: No local copy was found and the download failed (an
            ``OSError``); the message says where it looked and how to point at a copy.

    Example:
        >>> from netfleet.datasets import mnist
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train[:4].tolist()  # doctest: +SKIP
        ((60000, 28, 28), [5, 0, 4, 1])
    """
    folder = _SOURCE.locate(path)
    x_train, y_train, x_test, y_test = (
        _decode(name, (folder / name).read_bytes(), str(folder / name)) for name in _FILES
    )
    return (x_train, y_train), (x_test, y_test)


def _decode(name: str, data: bytes, source: str) -> np.ndarray:
    """Returns the array in file ``name``; raises a ValueError unless ``data`` is that file."""
    shape, sha256 = _FILES[name]
    return _idx.decode(data, shape, sha256, source)


_SOURCE = _files.DataFiles(
    folder="mnist", title="MNIST", names=tuple(_FILES), mirrors=MIRRORS, check=_decode
)
