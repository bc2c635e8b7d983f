"""The safetensors format, read by netfleet's own checked reader.

A safetensors file is an 8-byte little-endian header length, a JSON header
`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}` and the
tensors' bytes. The header is read and checked first: every dtype known, every byte range the
size its dtype and shape need, the ranges back to back and covering exactly the data that
follows. Only then, and only after the caller has compared the declared shapes with the model,
are the tensors read: a file can never make netfleet allocate more than it holds.
"""

import collections
import math
import struct

import torch

from netfleet.errors import ModelFileError
from netfleet.saving import jsontext, limits

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
}
METADATA = "__metadata__"
_LENGTH = struct.Struct("<Q")
_ENTRY_KEYS = {"dtype", "shape", "data_offsets"}
_CHUNK = 16 * 2**20

TensorSpec = collections.namedtuple("TensorSpec", "dtype shape begin end")
"""One tensor a header declares: its torch dtype, shape and byte range in the data."""

Layout = collections.namedtuple("Layout", "specs metadata data_size")
"""What a header declares: `{name: TensorSpec}`, the metadata dict and the data's length."""


def read_layout(stream, size, source):
    """Read and check the header of the safetensors file that `stream` is at the start of.

    Args:
        stream: A binary stream (a file, a zip entry) positioned at the file's first byte.
        size: The file's length in bytes.
        source: The file, for error messages.

    Returns:
        The `Layout` the header declares; `stream` is left at the first byte of the data.

    Raises:
        ModelFileError: the header lies about the data, or is damaged, too large or not JSON.
    """
    if size < _LENGTH.size:
        raise _damaged(source, f"they are {size} bytes long, too short to hold a header")
    (length,) = _LENGTH.unpack(_read(stream, _LENGTH.size, source))
    if length > size - _LENGTH.size:
        raise _damaged(
            source,
            f"their header claims {length} bytes, but only {size - _LENGTH.size} bytes follow",
        )
    if length > limits.MAX_HEADER_BYTES:
        raise _damaged(
            source,
            f"their header claims {length} bytes, more than the {limits.MAX_HEADER_BYTES} "
            "bytes netfleet reads",
        )
    header = jsontext.parse(
        _read(stream, length, source),
        limits.MAX_HEADER_BYTES,
        lambda problem: _damaged(source, f"their header {problem}"),
    )
    if not isinstance(header, dict):
        raise _damaged(source, f"their header is a JSON {type(header).__name__}, not an object")
    metadata = _metadata(header.pop(METADATA, None), source)
    specs = {name: _spec(name, entry, source) for name, entry in header.items()}
    data_size = size - _LENGTH.size - length
    _check_ranges(specs, data_size, source)
    return Layout(specs, metadata, data_size)


def read_tensors(stream, layout, source):
    """The tensors `layout` declares, read from `stream` (at the first byte of the data).

    Raises:
        ModelFileError: the data ends early.
    """
    data = _read_into(stream, layout.data_size, source)
    tensors = {}
    for name, spec in layout.specs.items():
        if spec.end == spec.begin:
            tensors[name] = torch.empty(spec.shape, dtype=spec.dtype)
            continue
        raw = torch.frombuffer(
            data, dtype=torch.uint8, count=spec.end - spec.begin, offset=spec.begin
        )
        tensors[name] = raw.clone().view(spec.dtype).reshape(spec.shape)
    return tensors


def _metadata(metadata, source):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _damaged(
            source, f"their {METADATA} must map names to strings. Got {jsontext.brief(metadata)}"
        )
    return metadata


def _spec(name, entry, source):
    """The `TensorSpec` of header entry `name`, its dtype, shape and byte range checked."""
    if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
        raise _damaged(
            source,
            f"the header entry of tensor {jsontext.brief(name)} must be an object with the "
            f"keys {sorted(_ENTRY_KEYS)}. Got {jsontext.brief(entry)}",
        )
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise _damaged(
            source,
            f"tensor {jsontext.brief(name)} has the dtype {jsontext.brief(dtype)}; netfleet "
            f"reads {', '.join(DTYPES)}",
        )
    if not _naturals(shape):
        raise _damaged(
            source,
            f"tensor {jsontext.brief(name)} has the shape {jsontext.brief(shape)}, not a list "
            "of sizes >= 0",
        )
    if not (_naturals(offsets) and len(offsets) == 2 and offsets[0] <= offsets[1]):
        raise _damaged(
            source,
            f"tensor {jsontext.brief(name)} has the byte range {jsontext.brief(offsets)}, not "
            "[begin, end] with 0 <= begin <= end",
        )
    spec = TensorSpec(DTYPES[dtype], tuple(shape), *offsets)
    needed = math.prod(spec.shape) * spec.dtype.itemsize
    if spec.end - spec.begin != needed:
        raise _damaged(
            source,
            f"tensor {jsontext.brief(name)} is declared {dtype} of shape {spec.shape} "
            f"({needed} bytes) but spans {spec.end - spec.begin} bytes",
        )
    return spec


def _naturals(values):
    return isinstance(values, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
    )


def _check_ranges(specs, data_size, source):
    """The tensors' byte ranges must follow one another and end where the data ends."""
    position = 0
    for name, spec in sorted(specs.items(), key=lambda item: (item[1].begin, item[1].end)):
        if spec.begin != position:
            where = "overlaps the tensor before it" if spec.begin < position else "leaves a gap"
            raise _damaged(
                source,
                f"tensor {jsontext.brief(name)} starts at byte {spec.begin} of the data and "
                f"{where} (which ends at byte {position})",
            )
        position = spec.end
    if position != data_size:
        raise _damaged(
            source,
            f"their header declares {position} bytes of tensor data, but the file holds "
            f"{data_size}",
        )


def _read(stream, count, source):
    data = stream.read(count)
    if len(data) != count:
        raise _damaged(source, f"the file ends {count - len(data)} bytes early")
    return data


def _read_into(stream, count, source):
    """`count` bytes of `stream` in a new bytearray, read a chunk at a time."""
    data = bytearray(count)
    view = memoryview(data)
    filled = 0
    while filled < count:
        got = stream.readinto(view[filled : filled + _CHUNK])
        if not got:
            raise _damaged(source, f"the file ends {count - filled} bytes early")
        filled += got
    return data


def _damaged(source, problem):
    return ModelFileError(f"The weights in {source} are damaged: {problem}.")
