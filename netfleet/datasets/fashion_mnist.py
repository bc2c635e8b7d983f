"""Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando Research), loaded like
``keras.datasets.fashion_mnist``: 28x28 grayscale photos of clothes in ten classes.

The labels are 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
7 Sneaker, 8 Bag and 9 Ankle boot. The four official gzip IDX files (the names of MNIST's)
are looked for in this order, the first complete set wins:

1. ``path=``: a folder holding ``fashion_mnist/`` with the four files, or the files
   themselves. If it holds neither, ``load_data`` raises rather than looking elsewhere.
2. ``$NETFLEET_DATA``: a data folder holding ``fashion_mnist/`` (or the four files).
3. The cache ``$NETFLEET_CACHE/fashion_mnist`` (``NETFLEET_CACHE`` defaults to
   ``~/.cache/netfleet``); files missing there are downloaded once, from the first of
   ``MIRRORS`` that serves a verified copy, and written atomically.

Every load checks each file in full: gzip integrity, IDX magic number and dimensions, data
size, and the sha256 of the file as published (the checksums tensorflow-datasets records
for the official files, whose md5 sums are those of the Fashion-MNIST README). A copy that
was decompressed and compressed again is not the published file and fails the check.
"""

from __future__ import annotations

import os

import numpy as np

from netfleet.datasets import _checksum, _files, _idx
from netfleet.datasets._download import DatasetUnavailableError

__all__ = ["MIRRORS", "DatasetUnavailableError", "load_data"]

MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)

# File name -> (shape its IDX header declares, sha256 of the published .gz file).
_FILES = {
    "train-images-idx3-ubyte.gz": (
        (60000, 28, 28),
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ),
    "train-labels-idx1-ubyte.gz": (
        (60000,),
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    "t10k-images-idx3-ubyte.gz": (
        (10000, 28, 28),
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        (10000,),
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
}


def load_data(
    path: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads Fashion-MNIST: 70,000 grayscale 28x28 images of clothes, 10 classes.

    Args:
        path: A folder holding ``fashion_mnist/`` with the four ``.gz`` files, or the files
            themselves. Defaults to ``None``: look in ``$NETFLEET_DATA``, then in the
            cache, and download into the cache what is missing.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``, writable ``uint8`` arrays:
        ``x_train`` of shape ``(60000, 28, 28)`` and ``y_train`` of shape ``(60000,)``,
        ``x_test`` of shape ``(10000, 28, 28)`` and ``y_test`` of shape ``(10000,)``.
        Pixels are 0-255 and labels 0-9, as in ``keras.datasets.fashion_mnist.load_data()``.

    Raises:
        TypeError: ``path`` is not a str, an ``os.PathLike`` or ``None``.
        FileNotFoundError: ``path`` does not hold the four files.
        ValueError: A file is not valid gzip or IDX, is truncated, or fails its sha256 check.
        DatasetUnavailableError: No local copy was found and the download failed (an
            ``OSError``); the message says where it looked and how to point at a copy.

    Example:
        >>> from netfleet.datasets import fashion_mnist
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, x_test.shape  # doctest: +SKIP
        ((60000, 28, 28), (10000, 28, 28))
    """
    folder = _SOURCE.locate(path)
    x_train, y_train, x_test, y_test = (
        _decode(name, (folder / name).read_bytes(), str(folder / name)) for name in _FILES
    )
    return (x_train, y_train), (x_test, y_test)


def _decode(name: str, data: bytes, source: str) -> np.ndarray:
    """Returns the array in file ``name``; raises a ValueError unless ``data`` is that file.

    The IDX structure is checked first, as its errors say more ("is truncated") than a
    checksum's.
    """
    shape, sha256 = _FILES[name]
    array = _idx.decode(data, shape, None, source)
    _checksum.verify_sha256(data, sha256, source)
    return array


_SOURCE = _files.DataFiles(
    folder="fashion_mnist",
    title="Fashion-MNIST",
    names=tuple(_FILES),
    mirrors=MIRRORS,
    check=_decode,
)
