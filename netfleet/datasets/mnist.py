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
from pathlib import Path

import numpy as np

from netfleet.datasets import _download, _idx
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
_FILE_LIST = ", ".join(_FILES)


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
    folder = _explicit_folder(path) if path is not None else _default_folder()
    x_train, y_train, x_test, y_test = (
        _idx.decode((folder / name).read_bytes(), shape, sha256, source=str(folder / name))
        for name, (shape, sha256) in _FILES.items()
    )
    return (x_train, y_train), (x_test, y_test)


def _explicit_folder(path: str | os.PathLike) -> Path:
    """Returns the folder with the four files under the user's ``path``, or raises."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            "The 'path' argument of mnist.load_data must be a folder (a str or an "
            f"os.PathLike) or None. Got {path!r} of type {type(path).__name__}."
        )
    root = Path(path).expanduser()
    folder = _complete_folder(root)
    if folder is None:
        raise FileNotFoundError(
            "The 'path' argument of mnist.load_data must be a folder holding "
            f"{_FILE_LIST}, or a folder holding 'mnist/' with them. Got {str(path)!r}, "
            f"where {_describe_missing(root)}."
        )
    return folder


def _default_folder() -> Path:
    """Returns the ``$NETFLEET_DATA`` copy or the cache, downloading into the cache."""
    looked = ["  - path= (not given)"]
    data_root = os.environ.get("NETFLEET_DATA")
    if data_root:
        folder = _complete_folder(Path(data_root).expanduser())
        if folder is not None:
            return folder
        looked.append(f"  - NETFLEET_DATA: {_describe_missing(Path(data_root).expanduser())}")
    else:
        looked.append("  - NETFLEET_DATA (not set)")
    cache = _download.cache_dir("mnist")
    looked.append(f"  - the cache: {_describe_missing(cache)}")
    for name, (shape, sha256) in _FILES.items():
        if (cache / name).is_file():
            continue
        urls = [mirror + name for mirror in MIRRORS]
        try:
            _download.download(urls, cache / name, check=_checker(shape, sha256))
        except DatasetUnavailableError as exc:
            raise DatasetUnavailableError(_unavailable_message(looked, exc)) from None
    return cache


def _checker(shape: tuple[int, ...], sha256: str):
    """Returns a ``check(data, url)`` that raises a ValueError unless ``data`` is the file."""

    def check(data: bytes, url: str) -> None:
        _idx.decode(data, shape, sha256, source=url)

    return check


def _complete_folder(root: Path) -> Path | None:
    """Returns ``root`` or ``root / "mnist"``, whichever holds all four files, else None."""
    for folder in (root, root / "mnist"):
        if all((folder / name).is_file() for name in _FILES):
            return folder
    return None


def _describe_missing(root: Path) -> str:
    """Says what ``root`` lacks, e.g. ``"/data/mnist lacks t10k-labels-idx1-ubyte.gz"``."""
    if not root.is_dir():
        return f"{root} does not exist"
    folder = root / "mnist" if (root / "mnist").is_dir() else root
    missing = ", ".join(name for name in _FILES if not (folder / name).is_file())
    if folder == root:
        return f"{root} holds no 'mnist/' folder and lacks {missing}"
    return f"{folder} lacks {missing}"


def _unavailable_message(looked: list[str], failure: DatasetUnavailableError) -> str:
    """Builds the offline error: where it looked, what failed, how to point at a copy."""
    return (
        "MNIST is not available: no local copy was found and the download failed.\n"
        "Looked in:\n" + "\n".join(looked) + f"\n{failure}\n"
        "To use a local copy, call mnist.load_data(path=FOLDER) or set the environment "
        "variable NETFLEET_DATA=FOLDER, where FOLDER holds 'mnist/' with "
        f"{_FILE_LIST} (path= also accepts the 'mnist/' folder itself)."
    )
