"""Open Inference Protocol tensors ↔ numpy arrays.

Inputs come either in ``raw_input_contents`` (one little-endian row-major
buffer per input; BYTES elements each prefixed by a 4-byte little-endian
length) or in typed ``contents``. Outputs always go in
``raw_output_contents``, which is what tritonclient reads. Every error names
the input, what was expected and what came.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ragserve.errors import InvalidArgument
from ragserve.runtime.bytes_tensor import encode_bytes_elements

NUMPY_BY_DATATYPE: Mapping[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(np.object_),
}

# Which typed `contents` field carries each datatype.
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}

_LENGTH = struct.Struct("<I")


def element_count(shape: Sequence[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def decode_bytes_tensor(buffer: bytes, count: int, field: str) -> np.ndarray:
    """``count`` length-prefixed elements from ``buffer`` as an object array of bytes."""
    elements: list[bytes] = []
    offset = 0
    view = memoryview(buffer)
    for index in range(count):
        if offset + 4 > len(buffer):
            raise InvalidArgument(
                field,
                f"BYTES content ends after {index} of {count} elements "
                "(each element needs a 4-byte little-endian length prefix)",
            )
        (length,) = _LENGTH.unpack_from(buffer, offset)
        offset += 4
        if offset + length > len(buffer):
            raise InvalidArgument(
                field,
                f"BYTES element {index} declares {length} bytes, "
                f"only {len(buffer) - offset} remain",
            )
        elements.append(bytes(view[offset : offset + length]))
        offset += length
    if offset != len(buffer):
        raise InvalidArgument(
            field, f"BYTES content has {len(buffer) - offset} bytes beyond its {count} elements"
        )
    array = np.empty(count, dtype=np.object_)
    array[:] = elements
    return array


def encode_bytes_tensor(array: np.ndarray) -> bytes:
    return encode_bytes_elements(array.reshape(-1))


def decode_input(
    name: str, datatype: str, shape: Sequence[int], raw: bytes | None, contents: Any, field: str
) -> np.ndarray:
    """One input tensor as a numpy array of ``shape``."""
    if datatype not in NUMPY_BY_DATATYPE:
        raise InvalidArgument(
            f"{field}.datatype",
            f"'{datatype}' is not a protocol datatype ({', '.join(NUMPY_BY_DATATYPE)})",
        )
    if any(dim < 0 for dim in shape):
        raise InvalidArgument(f"{field}.shape", f"dimensions must be >= 0, got {list(shape)}")
    count = element_count(shape)
    dtype = NUMPY_BY_DATATYPE[datatype]
    if raw is not None:
        if datatype == "BYTES":
            array = decode_bytes_tensor(raw, count, field)
        else:
            expected = count * dtype.itemsize
            if len(raw) != expected:
                raise InvalidArgument(
                    field,
                    f"raw content has {len(raw)} bytes; shape {list(shape)} of {datatype} "
                    f"needs {expected}",
                )
            array = np.frombuffer(raw, dtype=dtype)
    else:
        values = getattr(contents, CONTENTS_FIELD.get(datatype, ""), None) if contents else None
        if values is None:
            raise InvalidArgument(field, f"no contents for datatype {datatype}")
        if len(values) != count:
            raise InvalidArgument(
                field, f"contents hold {len(values)} elements; shape {list(shape)} needs {count}"
            )
        if datatype == "BYTES":
            array = np.empty(count, dtype=np.object_)
            array[:] = list(values)
        else:
            array = np.asarray(values, dtype=dtype)
    return array.reshape(tuple(shape))


def encode_output(array: np.ndarray) -> tuple[str, list[int], bytes]:
    """(datatype, shape, raw bytes) of an output array."""
    if array.dtype == np.object_:
        return "BYTES", list(array.shape), encode_bytes_tensor(array)
    for datatype, dtype in NUMPY_BY_DATATYPE.items():
        # Any byte order matches; the output is written little-endian, as the protocol says.
        if datatype != "BYTES" and array.dtype.newbyteorder("<") == dtype:
            return datatype, list(array.shape), np.ascontiguousarray(array, dtype=dtype).tobytes()
    raise InvalidArgument("outputs", f"cannot encode numpy dtype {array.dtype}")
