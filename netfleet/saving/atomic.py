"""Writing a file all at once: into a temporary file beside it, then moved into place.

A save that fails half-way (a full disk, an error while serializing, an interrupt) leaves
the previous file as it was and no temporary file behind.
"""

import errno
import os
import uuid


def write_atomically(filepath, write, overwrite=True):
    """Write `filepath` through `write(file)`, replacing any old file only once it succeeded.

    Args:
        filepath: Where the file goes (str or path-like); its folder must exist.
        write: A function that writes the contents into the binary file object it is given.
        overwrite: Whether an existing file may be replaced. Defaults to `True`.

    Raises:
        FileExistsError: the file exists and `overwrite` is False.
        FileNotFoundError: the folder does not exist.
    """
    path = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(path))
    if not overwrite and os.path.exists(path):
        raise FileExistsError(
            errno.EEXIST, "The file exists; pass overwrite=True to replace it", path
        )
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            errno.ENOENT, "Cannot save into a folder that does not exist", folder
        )
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        with os.fdopen(os.open(temporary, flags, 0o666), "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
