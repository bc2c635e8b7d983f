"""Reads known members of a gzip-compressed tar archive held in memory, safely.

Nothing is extracted to disk: members are looked up by their exact names and read into
memory, so names like ``../x`` or absolute paths cannot write anywhere, and every other
member is skipped. A member must be a regular file of the expected size, which bounds what
is read. The archive is read in one streaming pass, so it is decompressed once, by
``gzip.GzipFile``, which notices a gzip stream cut short (``tarfile`` alone would take it for
the end of the archive).
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from collections.abc import Iterator, Mapping


def read_members(data: bytes, sizes: Mapping[str, int], source: str) -> Iterator[tuple[str, bytes]]:
    """Yields ``(name, contents)`` for each member named in ``sizes``, in archive order.

    Args:
        data: The bytes of the ``.tar.gz`` file.
        sizes: Member name (its full path in the archive) -> its size in bytes.
        source: Where the bytes came from (a path or a URL), named in error messages.

    Raises:
        ValueError: The bytes are not a valid gzip tar archive or are truncated, a member is
            missing, appears twice, is not a regular file or has another size.
    """
    seen = set()
    try:
        with (
            gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as stream,
            tarfile.open(fileobj=stream, mode="r|") as archive,
        ):
            for member in archive:
                if member.name not in sizes:
                    continue
                _check_member(member, sizes[member.name], seen, source)
                seen.add(member.name)
                contents = archive.extractfile(member).read()
                if len(contents) != member.size:
                    raise EOFError(f"{member.name} ends after {len(contents)} bytes")
                yield member.name, contents
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(
            f"{source} is not a valid .tar.gz archive or is truncated ({exc}). Delete it and "
            "download or copy it again."
        ) from exc
    missing = [name for name in sizes if name not in seen]
    if missing:
        raise ValueError(f"{source} lacks {', '.join(missing)}. Is it the right archive?")


def _check_member(member: tarfile.TarInfo, size: int, seen: set[str], source: str) -> None:
    """Raises a ValueError unless ``member`` is a first, regular file of ``size`` bytes."""
    if member.name in seen:
        raise ValueError(f"{source} holds {member.name} twice. Is it the right archive?")
    if not member.isreg():
        raise ValueError(
            f"{source} holds {member.name} as a link or a folder, not as a file. Is it the "
            "right archive?"
        )
    if member.size != size:
        raise ValueError(
            f"{source} holds {member.name} of {member.size} bytes, expected {size}. Is it the "
            "right archive?"
        )
