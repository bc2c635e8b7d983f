"""Opening a model or weights file as untrusted input.

The path must name a regular file (not a folder, a device or a pipe, which could block or
never end). Its first bytes tell what it is: a zip archive (a model file), or, for a weights
file, safetensors; a pickle (`torch.save`, `pickle.dump`), an HDF5 (Keras 2's `.h5`) or a
NumPy file is refused by name, since loading those can run code. A model file's zip
directory is checked before it is parsed, and its entries before any is unpacked: exactly the
entries netfleet writes, plain names (no folder, absolute or `..` path, link), and declared
sizes within the limits, within the file, and not inflated like a zip bomb's. Nothing in a file
is ever extracted, followed or opened by name.
"""

import contextlib
import errno
import os
import stat
import struct
import zipfile
import zlib

from netfleet.errors import ModelFileError
from netfleet.saving import jsontext, limits

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_FOREIGN = {
    b"\x89HDF\r\n\x1a\n": "an HDF5 file (Keras 2's .h5 format)",
    b"\x93NUMPY": "a NumPy .npy file",
}
_PICKLE = "a Python pickle (written by torch.save, pickle.dump or joblib)"
_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, struct.error)


@contextlib.contextmanager
def open_file(path):
    """The regular file at `path`, opened for reading, with its size.

    Yields:
        `(file, size, is_zip)`; `file` is at its first byte.

    Raises:
        FileNotFoundError: nothing is at `path`.
        ModelFileError: `path` is a folder or not a regular file, is empty, or holds a
            pickle, an HDF5 or a NumPy file.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "No model or weights file at this path", path)
    if os.path.isdir(path):
        raise ModelFileError(f"{path} is a folder; a netfleet model is a single file.")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)  # non-blocking: opening a pipe must not wait for a writer
    with os.fdopen(descriptor, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ModelFileError(
                f"{path} is not a regular file (it is a {_kind_of(mode)}); a netfleet model is "
                "a single file."
            )
        size = os.fstat(file.fileno()).st_size
        if size == 0:
            raise ModelFileError(f"{path} is empty: it holds no model or weights.")
        head = file.read(8)
        foreign = _foreign_format(head)
        if foreign is not None:
            raise _foreign_error(path, foreign)
        file.seek(0)
        yield file, size, head[:4] in ZIP_MAGIC


@contextlib.contextmanager
def open_zip(file, size, path, entries):
    """The zip archive in `file`, checked to hold exactly `entries` and nothing unsafe.

    Args:
        file: The open file (from `open_file`), `size` bytes long.
        path: Its path, for error messages.
        entries: `{name: the most bytes it may unpack to, or None}` of the entries it must
            hold, and may only hold.

    Yields:
        The `Entries` of the archive.

    Raises:
        ModelFileError: the archive is damaged, holds other entries (a pickle among them),
            an unsafe name, or an entry larger than its limit or inflated like a zip bomb.
    """
    _check_directory(file, size, path)
    try:
        archive = zipfile.ZipFile(file)
    except (*_ZIP_ERRORS, UnicodeDecodeError) as error:  # entry names may be invalid UTF-8
        raise _damaged(path, error) from None
    with archive:
        infos = {info.filename: info for info in _checked_infos(archive, path, entries)}
        for name, info in infos.items():
            _check_entry(info, size, entries[name], path)
        yield Entries(archive, infos, path)


class Entries:
    """The checked entries of a model file's zip archive, read as streams whose zip errors
    (a bad checksum, data that ends early) are `ModelFileError`s."""

    def __init__(self, archive, infos, path):
        self._archive = archive
        self._infos = infos
        self.path = path

    @contextlib.contextmanager
    def open(self, name):
        """`(stream, size)` of entry `name`: a binary stream of its `size` unpacked bytes."""
        try:
            stream = self._archive.open(self._infos[name])
        except _ZIP_ERRORS as error:
            raise _damaged(self.path, error) from None
        with stream:
            yield _CheckedStream(stream, self.path), self._infos[name].file_size

    def read(self, name):
        """All the bytes of entry `name` (`open_zip` checked their count against its limit)."""
        with self.open(name) as (stream, size):
            data = stream.read(size)
        if len(data) != size:
            raise ModelFileError(
                f"{self.path} is damaged: its entry {name} holds {len(data)} bytes, not the "
                f"{size} its zip directory declares."
            )
        return data


class _CheckedStream:
    """A zip entry's stream whose decompression and checksum errors are `ModelFileError`s."""

    def __init__(self, stream, path):
        self._stream = stream
        self._path = path

    def read(self, count):
        try:
            return self._stream.read(count)
        except _ZIP_ERRORS as error:
            raise _damaged(self._path, error) from None

    def readinto(self, buffer):
        try:
            return self._stream.readinto(buffer)
        except _ZIP_ERRORS as error:
            raise _damaged(self._path, error) from None


# -- what the file is ----------------------------------------------------------------------
def _foreign_format(head):
    for magic, name in _FOREIGN.items():
        if head.startswith(magic):
            return name
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle protocol 2 to 5
        return _PICKLE
    return None


def _foreign_error(path, name):
    return ModelFileError(
        f"{path} is {name}, not a netfleet model or weights file. netfleet never loads "
        "pickles or other formats that can run code: save the model with netfleet's "
        "save_model() (or its weights with save_weights()) and load that file."
    )


def _kind_of(mode):
    kinds = {
        stat.S_ISCHR: "character device",
        stat.S_ISBLK: "block device",
        stat.S_ISFIFO: "named pipe",
        stat.S_ISSOCK: "socket",
    }
    return next((kind for test, kind in kinds.items() if test(mode)), "special file")


# -- the zip directory ---------------------------------------------------------------------
def _check_directory(file, size, path):
    """Refuse a zip directory with too many entries or too many bytes, before parsing it."""
    entries, directory_bytes = _directory_size(file, size, path)
    if entries > limits.MAX_ENTRIES or directory_bytes > limits.MAX_DIRECTORY_BYTES:
        raise ModelFileError(
            f"{path} is not a netfleet model file: its zip directory lists {entries} entries "
            f"in {directory_bytes} bytes (a netfleet model file has 2; at most "
            f"{limits.MAX_ENTRIES} entries and {limits.MAX_DIRECTORY_BYTES} bytes are read)."
        )


def _directory_size(file, size, path):
    """The entry count and byte size that the end record of the zip directory declares."""
    tail_size = min(size, _END.size + 0xFFFF)  # the record, and a comment of up to 64 KiB
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    at = len(tail) - _END.size
    if not (tail[at:].startswith(_END_SIGNATURE) and tail[-2:] == b"\0\0"):
        at = tail.rfind(_END_SIGNATURE)
    if at < 0 or at + _END.size > len(tail):
        raise _damaged(path, "it has no zip directory; it may be truncated")
    record = _END.unpack_from(tail, at)
    entries, directory_bytes = record[4], record[5]
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:  # sizes in the ZIP64 record
        locator_at = at - _ZIP64_LOCATOR.size
        if locator_at < 0:
            raise _damaged(path, "its ZIP64 directory locator is missing")
        signature, _, offset, _ = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
        if signature != b"PK\x06\x07" or offset + _ZIP64_END.size > size:
            raise _damaged(path, "its ZIP64 directory locator is damaged")
        file.seek(offset)
        record = _ZIP64_END.unpack(file.read(_ZIP64_END.size))
        if record[0] != b"PK\x06\x06":
            raise _damaged(path, "its ZIP64 directory record is damaged")
        entries, directory_bytes = record[7], record[8]
    file.seek(0)
    return entries, directory_bytes


def _checked_infos(archive, path, entries):
    """The archive's entries, once their names are safe and exactly `entries`."""
    infos = archive.infolist()
    names = [info.filename for info in infos]
    unsafe = [name for name in names if _leaves_archive(name)]
    if unsafe:
        raise ModelFileError(
            f"{path} is not a netfleet model file: the entry names {_names(unsafe)} are paths "
            "out of the archive (absolute or through '..'). Nothing was extracted."
        )
    pickles = [name for name in names if name.endswith((".pkl", ".pickle"))]
    if pickles:
        raise _foreign_error(path, f"a zip archive holding the pickles {_names(pickles)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ModelFileError(
            f"{path} is damaged: its zip archive holds several entries named {_names(repeated)}."
        )
    missing = [name for name in entries if name not in names]
    if missing:
        raise ModelFileError(
            f"{path} is a zip archive but not a netfleet model file: it has no {missing[0]} "
            f"entry (it has {_names(sorted(names))})."
        )
    unexpected = [name for name in names if name not in entries]
    if unexpected:
        raise ModelFileError(
            f"{path} is not a netfleet model file: besides {_names(list(entries))} it holds "
            f"the unexpected entries {_names(unexpected)}, which netfleet never reads."
        )
    return infos


def _leaves_archive(name):
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _check_entry(info, file_size, limit, path):
    """Refuse an entry that is a link or folder, encrypted, or larger than it may be."""
    name = jsontext.brief(info.filename)
    mode = info.external_attr >> 16
    if info.is_dir() or stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a plain file"
        raise ModelFileError(
            f"{path} is not a netfleet model file: its entry {name} is {kind}. netfleet never "
            "follows links or extracts entries."
        )
    if info.flag_bits & 0x1:
        raise ModelFileError(f"{path} is not a netfleet model file: its entry {name} is encrypted.")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFileError(
            f"{path} is not a netfleet model file: its entry {name} uses compression method "
            f"{info.compress_type}; netfleet writes only stored and deflated entries."
        )
    if info.header_offset + info.compress_size > file_size:
        raise _damaged(
            path,
            f"its entry {name} claims {info.compress_size} bytes at offset "
            f"{info.header_offset}, beyond the file's {file_size} bytes; it may be truncated",
        )
    if limit is not None and info.file_size > limit:
        raise ModelFileError(
            f"{path} is not a netfleet model file: its entry {name} unpacks to "
            f"{info.file_size} bytes, more than the {limit} bytes netfleet reads."
        )
    ratio_limit = max(limits.RATIO_FREE_BYTES, info.compress_size * limits.MAX_COMPRESSION_RATIO)
    if info.file_size > ratio_limit:
        raise ModelFileError(
            f"{path} is not a netfleet model file: its entry {name} unpacks from "
            f"{info.compress_size} to {info.file_size} bytes, more than "
            f"{limits.MAX_COMPRESSION_RATIO} times its size (a zip bomb?)."
        )


def _names(names):
    return ", ".join(jsontext.brief(name) for name in names)


def _damaged(path, problem):
    return ModelFileError(f"{path} is damaged or not a netfleet model file: {problem}.")
