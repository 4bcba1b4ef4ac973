"""Tensor datatypes as the Open Inference Protocol (KServe v2) names them.

One table, three views: KServe name ↔ numpy dtype ↔ ONNX Runtime type string.
BYTES tensors are numpy object arrays whose elements are ``bytes``.
"""

from __future__ import annotations

from typing import Final

import numpy as np

#: KServe datatype name → numpy dtype. Order is the protocol's own listing.
NUMPY_DTYPES: Final[dict[str, np.dtype[np.generic]]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(np.object_),
}

DATATYPES: Final[frozenset[str]] = frozenset(NUMPY_DTYPES)

#: ONNX Runtime's ``NodeArg.type`` strings → KServe datatype name.
_ORT_TYPES: Final[dict[str, str]] = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}

_BY_DTYPE: Final[dict[np.dtype[np.generic], str]] = {
    dtype: name for name, dtype in NUMPY_DTYPES.items()
}


def numpy_dtype(datatype: str) -> np.dtype[np.generic]:
    """The numpy dtype that holds ``datatype``; KeyError for a name not in the protocol."""
    return NUMPY_DTYPES[datatype]


def datatype_of(array: np.ndarray) -> str | None:
    """The KServe datatype of ``array``, or None when numpy's dtype has no KServe name."""
    return _BY_DTYPE.get(array.dtype)


def datatype_of_ort(ort_type: str) -> str | None:
    """The KServe datatype of an ONNX Runtime input/output type string, None when unmapped."""
    return _ORT_TYPES.get(ort_type)
