"""The Open Inference Protocol's BYTES tensor wire format, shared by the
inference service (which serves it) and the embedding router (which sends it):
each element is a 4-byte little-endian length followed by that many bytes."""

from __future__ import annotations

import struct
from collections.abc import Iterable

_LENGTH = struct.Struct("<I")


def encode_bytes_elements(elements: Iterable[bytes | bytearray | memoryview | str]) -> bytes:
    """One raw BYTES tensor content; ``str`` elements are encoded as UTF-8."""
    parts: list[bytes] = []
    for element in elements:
        data = element.encode("utf-8") if isinstance(element, str) else bytes(element)
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)
