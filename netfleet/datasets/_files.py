"""Finds the files of a downloadable data set: in the user's folder, in ``$NETFLEET_DATA``, or
in the cache, downloading there once what is missing.

Each data set module (``mnist``, ``fashion_mnist``, ``cifar10``) describes its files with one
``DataFiles`` and reads them from the folder ``DataFiles.locate`` returns.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from netfleet.datasets import _download
from netfleet.datasets._download import DatasetUnavailableError


@dataclass(frozen=True)
class DataFiles:
    """The files of one data set and the mirrors that serve them.

    Attributes:
        folder: The data set's folder name in ``$NETFLEET_DATA`` and in the cache, which is
            also its module's name, e.g. ``"mnist"``.
        title: Its name in messages, e.g. ``"MNIST"``.
        names: Its file names, all needed.
        mirrors: Base URLs, tried in order; a file's URL is ``mirror + name``.
        check: Called as ``check(name, data, source)``; raises a ValueError unless ``data``
            is the file ``name``, verified (``source`` names it in the message).
    """

    folder: str
    title: str
    names: tuple[str, ...]
    mirrors: tuple[str, ...]
    check: Callable[[str, bytes, str], object]

    def locate(self, path: str | os.PathLike | None) -> Path:
        """Returns the folder holding every file: under ``path`` if given, else from
        ``$NETFLEET_DATA`` or the cache, downloading into the cache what is missing.

        Raises:
            TypeError: ``path`` is not a str, an ``os.PathLike`` or ``None``.
            FileNotFoundError: ``path`` does not hold the files.
            DatasetUnavailableError: No local copy was found and the download failed.
        """
        return self._explicit_folder(path) if path is not None else self._default_folder()

    def _explicit_folder(self, path: str | os.PathLike) -> Path:
        """Returns the folder with the files under the user's ``path``, or raises."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"The 'path' argument of {self.folder}.load_data must be a folder (a str or an "
                f"os.PathLike) or None. Got {path!r} of type {type(path).__name__}."
            )
        root = Path(path).expanduser()
        folder = self._complete_folder(root)
        if folder is None:
            raise FileNotFoundError(
                f"The 'path' argument of {self.folder}.load_data must be a folder holding "
                f"{self._file_list()}, or a folder holding '{self.folder}/' with them. "
                f"Got {str(path)!r}, where {self._describe_missing(root)}."
            )
        return folder

    def _default_folder(self) -> Path:
        """Returns the ``$NETFLEET_DATA`` copy or the cache, downloading into the cache."""
        looked = ["  - path= (not given)"]
        data_root = os.environ.get("NETFLEET_DATA")
        if data_root:
            folder = self._complete_folder(Path(data_root).expanduser())
            if folder is not None:
                return folder
            looked.append(f"  - NETFLEET_DATA: {self._describe_missing(Path(data_root))}")
        else:
            looked.append("  - NETFLEET_DATA (not set)")
        cache = _download.cache_dir(self.folder)
        looked.append(f"  - the cache: {self._describe_missing(cache)}")
        for name in self.names:
            if (cache / name).is_file():
                continue
            urls = [mirror + name for mirror in self.mirrors]
            try:
                _download.download(urls, cache / name, check=self._checker(name))
            except DatasetUnavailableError as exc:
                raise DatasetUnavailableError(self._unavailable_message(looked, exc)) from None
        return cache

    def _checker(self, name: str) -> Callable[[bytes, str], object]:
        """Returns the ``check(data, url)`` that ``_download.download`` calls for ``name``."""

        def check(data: bytes, url: str) -> None:
            self.check(name, data, url)

        return check

    def _complete_folder(self, root: Path) -> Path | None:
        """Returns ``root / folder`` or ``root``, the first holding every file, else None."""
        for folder in (root / self.folder, root):
            if all((folder / name).is_file() for name in self.names):
                return folder
        return None

    def _describe_missing(self, root: Path) -> str:
        """Says what ``root`` lacks, e.g. ``"/data/mnist lacks t10k-labels-idx1-ubyte.gz"``."""
        root = root.expanduser()
        if not root.is_dir():
            return f"{root} does not exist"
        folder = root / self.folder if (root / self.folder).is_dir() else root
        missing = ", ".join(name for name in self.names if not (folder / name).is_file())
        if folder == root:
            return f"{root} holds no '{self.folder}/' folder and lacks {missing}"
        return f"{folder} lacks {missing}"

    def _file_list(self) -> str:
        return ", ".join(self.names)

    def _unavailable_message(self, looked: list[str], failure: DatasetUnavailableError) -> str:
        """Builds the offline error: where it looked, what failed, how to point at a copy."""
        return (
            f"{self.title} is not available: no local copy was found and the download failed.\n"
            "Looked in:\n" + "\n".join(looked) + f"\n{failure}\n"
            f"To use a local copy, call {self.folder}.load_data(path=FOLDER) or set the "
            "environment variable NETFLEET_DATA=FOLDER, where FOLDER holds "
            f"'{self.folder}/' with {self._file_list()} (path= also accepts the "
            f"'{self.folder}/' folder itself)."
        )
