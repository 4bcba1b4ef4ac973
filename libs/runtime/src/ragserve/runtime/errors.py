"""The one table that maps domain errors to gRPC status codes.

Cores raise :mod:`ragserve.errors` exceptions; :func:`status_for` turns one
into a code, a message and rich details (``google.rpc.BadRequest`` naming the
field, ``google.rpc.RetryInfo`` with the retry delay), sent in the standard
``grpc-status-details-bin`` trailer so any gRPC client can read them.
Anything not in the table is a bug: INTERNAL, logged with the trace id.

Every text the table sends is bounded (:func:`bounded`): a message travels twice
(``grpc-message`` and the details trailer), percent-encoded, in headers that gRPC
caps at 8 KiB by default; a message that repeats a 10,000-character input must
not turn the caller's INVALID_ARGUMENT into RESOURCE_EXHAUSTED. Cores should
quote inputs with :func:`ragserve.errors.quote`; the bound is the guarantee.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from ragserve import errors

STATUS_BY_ERROR: dict[type[errors.RagserveError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.Cancelled: grpc.StatusCode.CANCELLED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
}

# Trailing metadata key of the serialized google.rpc.Status (gRPC's convention).
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# Plain-text retry hint for clients that do not decode rich details.
RETRY_AFTER_KEY = "retry-after-ms"

# UTF-8 bytes of each text the table sends. Worst case (every character a 4-byte
# one, percent-encoded threefold in grpc-message, base64 in the details trailer):
# about 6.5 KB of headers in all, under gRPC's default 8 KiB.
MAX_MESSAGE_BYTES = 1024
MAX_FIELD_BYTES = 256


# An echoed value is usually one unbroken run of characters (a name, a key, a path):
# a run this long is cut to its first QUOTE_LIMIT characters and its length.
_LONG_RUN = re.compile(rf"\S{{{2 * errors.QUOTE_LIMIT + 1},}}")


def _shorten_run(match: re.Match[str]) -> str:
    run = match.group()
    return f"{run[: errors.QUOTE_LIMIT]}... ({len(run)} characters)"


def bounded(text: str, max_bytes: int = MAX_MESSAGE_BYTES) -> str:
    """``text`` with every unbroken run of more than 128 characters cut to 64 and its
    length, then cut (saying so) to fit in ``max_bytes`` of UTF-8."""
    if len(text) <= 2 * errors.QUOTE_LIMIT:
        return text  # surely short: nothing to cut
    text = _LONG_RUN.sub(_shorten_run, text)
    if len(text) * 4 <= max_bytes:
        return text  # surely short: no need to encode
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    note = f"... (cut, {len(text)} characters in all)"
    head = encoded[: max_bytes - len(note)].decode("utf-8", errors="ignore")
    return head + note


@dataclass(frozen=True)
class MappedStatus:
    code: grpc.StatusCode
    message: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def code_for(error: errors.RagserveError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def status_for(error: errors.RagserveError) -> MappedStatus:
    """Code, message and rich-detail trailers for a domain error."""
    code = code_for(error)
    message = bounded(error.message)
    details: list[any_pb2.Any] = []
    metadata: list[tuple[str, str | bytes]] = []
    if isinstance(error, errors.InvalidArgument) and error.field:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=bounded(error.field, MAX_FIELD_BYTES), description=bounded(error.reason)
                )
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad_request)
        details.append(packed)
    if isinstance(error, errors.ResourceExhausted) and error.retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(error.retry_after_s * 1e9))
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(packed)
        metadata.append((RETRY_AFTER_KEY, str(int(error.retry_after_s * 1000))))
    if details:
        status = status_pb2.Status(code=code.value[0], message=message, details=details)
        metadata.append((STATUS_DETAILS_KEY, status.SerializeToString()))
    return MappedStatus(code, message, tuple(metadata))


def decode_details(
    trailing_metadata: Iterable[tuple[str, str | bytes]] | None,
) -> status_pb2.Status | None:
    """The rich status from a call's trailing metadata, if the server sent one."""
    for key, value in trailing_metadata or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    return None


def retry_after_s(trailing_metadata: Iterable[Any] | None) -> float | None:
    """The retry delay a call's trailing metadata advises (``retry-after-ms``), in seconds;
    None when there is none or it is not a number."""
    for key, value in trailing_metadata or ():
        if key == RETRY_AFTER_KEY:
            try:
                return int(value) / 1000.0
            except (TypeError, ValueError):
                return None
    return None
