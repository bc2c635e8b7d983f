"""Checks that a data file is the original one, by its sha256."""

from __future__ import annotations

import hashlib


def verify_sha256(data: bytes, sha256: str, source: str) -> None:
    """Raises a ValueError unless the sha256 of ``data``, the file's bytes, is ``sha256``."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise mismatch_error(source, "its bytes", digest, sha256)


def mismatch_error(source: str, hashed: str, digest: str, sha256: str) -> ValueError:
    """Builds the error for a file whose sha256 (of ``hashed``, e.g. ``"its bytes"``) is
    ``digest`` instead of ``sha256``, saying how to fix it."""
    return ValueError(
        f"{source} failed its checksum: the sha256 of {hashed} is {digest}, expected "
        f"{sha256}. The file is corrupt or not the original; replace or delete it (a deleted "
        "file in the cache is downloaded again)."
    )
