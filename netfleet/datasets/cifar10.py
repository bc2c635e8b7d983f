"""CIFAR-10 (Krizhevsky, 2009), loaded like ``keras.datasets.cifar10``: 32x32 colour images
in ten classes.

The labels are 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse,
8 ship and 9 truck. The data come from the official *binary* distribution,
``cifar-10-binary.tar.gz``, never from the Python version, whose pickles can run code when
loaded. The archive is looked for in this order:

1. ``path=``: a folder holding ``cifar10/`` with the archive, or the archive itself. If it
   holds neither, ``load_data`` raises rather than looking elsewhere.
2. ``$NETFLEET_DATA``: a data folder holding ``cifar10/`` (or the archive).
3. The cache ``$NETFLEET_CACHE/cifar10`` (``NETFLEET_CACHE`` defaults to
   ``~/.cache/netfleet``); a missing archive is downloaded once (170 MB) from ``MIRRORS``,
   verified, and written atomically.

Every load checks the archive's sha256 (that tensorflow-datasets records for it; the md5 is
the one on the CIFAR page), then reads its six batch files in memory, without extracting
anything to disk. A batch file is 10,000 records of 3,073 bytes: a label byte, then the
1,024 red, 1,024 green and 1,024 blue bytes of the image, each plane row by row; the images
are returned channels-last, as Keras returns them.
"""

from __future__ import annotations

import os

import numpy as np

from netfleet.datasets import _checksum, _files, _tar
from netfleet.datasets._download import DatasetUnavailableError

__all__ = ["MIRRORS", "DatasetUnavailableError", "load_data"]

MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)

_ARCHIVE = "cifar-10-binary.tar.gz"
_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
_FOLDER = "cifar-10-batches-bin/"
_TRAIN_BATCHES = tuple(f"{_FOLDER}data_batch_{i}.bin" for i in range(1, 6))
_TEST_BATCH = f"{_FOLDER}test_batch.bin"
_BATCH_RECORDS = 10000
_IMAGE_SHAPE = (3, 32, 32)  # as stored: channels first
_RECORD_BYTES = 1 + 3 * 32 * 32
_CLASSES = 10


def load_data(
    path: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads CIFAR-10: 60,000 colour 32x32 images in 10 classes.

    Args:
        path: A folder holding ``cifar10/`` with ``cifar-10-binary.tar.gz``, or the archive
            itself. Defaults to ``None``: look in ``$NETFLEET_DATA``, then in the cache, and
            download into the cache if it is missing.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``, writable ``uint8`` arrays:
        ``x_train`` of shape ``(50000, 32, 32, 3)`` and ``y_train`` of shape ``(50000, 1)``,
        ``x_test`` of shape ``(10000, 32, 32, 3)`` and ``y_test`` of shape ``(10000, 1)``.
        Images are channels-last with pixels 0-255 and labels are 0-9, as in
        ``keras.datasets.cifar10.load_data()``.

    Raises:
        TypeError: ``path`` is not a str, an ``os.PathLike`` or ``None``.
        FileNotFoundError: ``path`` does not hold the archive.
        ValueError: The archive fails its sha256 check, is not a valid ``.tar.gz``, or its
            batch files are missing, of the wrong size or hold labels outside 0-9.
        DatasetUnavailableError: No local copy was found and the download failed (an
            ``OSError``); the message says where it looked and how to point at a copy.

    Example:
        >>> from netfleet.datasets import cifar10
        >>> (x_train, y_train), (x_test, y_test) = cifar10.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train.shape  # doctest: +SKIP
        ((50000, 32, 32, 3), (50000, 1))
    """
    file = _SOURCE.locate(path) / _ARCHIVE
    data = file.read_bytes()
    _verify(_ARCHIVE, data, str(file))
    return _decode_archive(data, str(file))


def _verify(name: str, data: bytes, source: str) -> None:
    """Raises a ValueError unless ``data`` is the published archive."""
    _checksum.verify_sha256(data, _SHA256, source)


def _decode_archive(
    data: bytes, source: str
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Reads the six batch files of the archive ``data`` into channels-last arrays."""
    batch_bytes = _BATCH_RECORDS * _RECORD_BYTES
    sizes = {name: batch_bytes for name in (*_TRAIN_BATCHES, _TEST_BATCH)}
    train = _empty_split(len(_TRAIN_BATCHES) * _BATCH_RECORDS)
    test = _empty_split(_BATCH_RECORDS)
    for name, contents in _tar.read_members(data, sizes, source):
        if name == _TEST_BATCH:
            rows = slice(0, _BATCH_RECORDS)
            images, labels = test
        else:
            start = _TRAIN_BATCHES.index(name) * _BATCH_RECORDS
            rows = slice(start, start + _BATCH_RECORDS)
            images, labels = train
        _decode_batch(contents, images[rows], labels[rows], f"{source}: {name}")
    return train, test


def _empty_split(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns uninitialised ``uint8`` images ``(count, 32, 32, 3)`` and labels ``(count, 1)``."""
    channels, height, width = _IMAGE_SHAPE
    return (
        np.empty((count, height, width, channels), dtype=np.uint8),
        np.empty((count, 1), dtype=np.uint8),
    )


def _decode_batch(contents: bytes, images: np.ndarray, labels: np.ndarray, source: str) -> None:
    """Decodes one batch file's records into ``images`` (channels-last) and ``labels``."""
    records = np.frombuffer(contents, dtype=np.uint8).reshape(-1, _RECORD_BYTES)
    if records[:, 0].max(initial=0) >= _CLASSES:
        first = int(np.argmax(records[:, 0] >= _CLASSES))
        raise ValueError(
            f"{source} holds label {records[first, 0]} in record {first}, expected 0-"
            f"{_CLASSES - 1}. Is it CIFAR-10's binary archive?"
        )
    labels[:, 0] = records[:, 0]
    images[...] = records[:, 1:].reshape(-1, *_IMAGE_SHAPE).transpose(0, 2, 3, 1)


_SOURCE = _files.DataFiles(
    folder="cifar10",
    title="CIFAR-10",
    names=(_ARCHIVE,),
    mirrors=MIRRORS,
    check=_verify,
)
