"""Downloads data files once into netfleet's cache, verified first and written atomically."""

from __future__ import annotations

import http.client
import logging
import os
import tempfile
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

_TIMEOUT_S = 60
_logger = logging.getLogger(__name__)


class DatasetUnavailableError(OSError):
    """A data set has no local copy and could not be downloaded."""


def cache_dir(dataset: str) -> Path:
    """Returns the cache folder of ``dataset``: ``$NETFLEET_CACHE/<dataset>``.

    ``NETFLEET_CACHE`` defaults to ``~/.cache/netfleet``. The folder may not exist yet.
    """
    root = os.environ.get("NETFLEET_CACHE") or Path.home() / ".cache" / "netfleet"
    return Path(root).expanduser() / dataset


def download(urls: Sequence[str], file: Path, check: Callable[[bytes, str], object]) -> None:
    """Downloads ``file`` from the first of ``urls`` whose bytes pass ``check``.

    The bytes are checked in memory, then written to a temporary file beside ``file`` and
    renamed, so ``file`` is either absent or complete and verified.

    Args:
        urls: The mirrors' URLs of the file, tried in order.
        file: Where to write it; its folder is created if needed.
        check: Called as ``check(data, url)``; raises a ValueError if ``data`` is wrong.

    Raises:
        DatasetUnavailableError: Every URL failed; the message lists each URL's error.
    """
    failures = []
    for url in urls:
        _logger.info("Downloading %s to %s", url, file)
        try:
            with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
                data = response.read()
            check(data, url)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"  - {url}: {exc}")
            continue
        write_atomically(file, data)
        return
    raise DatasetUnavailableError(f"Could not download {file.name}:\n" + "\n".join(failures))


def write_atomically(file: Path, data: bytes) -> None:
    """Writes ``data`` to ``file`` through a temporary file and a rename.

    Readers never see a half-written ``file``; on any failure the temporary file is removed.
    """
    file.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, file)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
