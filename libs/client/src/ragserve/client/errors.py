"""Exceptions of the SDK: one class per gRPC status a caller may want to catch.

Every error the gateway returns becomes a :class:`RagserveError` subclass that
carries the status code, the server's message, the retry delay the server
advised (``google.rpc.RetryInfo``, else the ``retry-after-ms`` trailer), the
field a bad request named (``google.rpc.BadRequest``) and the call's trace id.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.rpc import error_details_pb2, status_pb2

# Trailing metadata keys the gateway sends (see the runtime's error table).
STATUS_DETAILS_KEY = "grpc-status-details-bin"
RETRY_AFTER_KEY = "retry-after-ms"
TRACE_ID_KEY = "x-trace-id"

Metadata = Iterable[tuple[str, str | bytes]]


class RagserveError(Exception):
    """A call to the gateway failed with ``code``; ``retry_delay_s`` is the server's advice."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        retry_delay_s: float | None = None,
        field: str | None = None,
        trace_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_delay_s = retry_delay_s
        self.field = field
        self.trace_id = trace_id

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.retry_delay_s is not None:
            text += f" (retry after {self.retry_delay_s:.3g} s)"
        return text


class InvalidArgument(RagserveError):
    """The request breaks a limit of the API; ``field`` names it when the server said."""


class NotFound(RagserveError):
    pass


class AlreadyExists(RagserveError):
    pass


class FailedPrecondition(RagserveError):
    pass


class ResourceExhausted(RagserveError):
    """A rate limit, budget or queue is full: retry after ``retry_delay_s``."""


class Unavailable(RagserveError):
    """The gateway or a service behind it cannot be reached now."""


class DeadlineExceeded(RagserveError):
    pass


class Cancelled(RagserveError):
    pass


class Unauthenticated(RagserveError):
    """The API key is missing, malformed, unknown, expired or revoked."""


class PermissionDenied(RagserveError):
    """The API key lacks the permission the call needs."""


class InternalError(RagserveError):
    """A bug in the suite (INTERNAL, UNKNOWN and every other code)."""


ERROR_BY_CODE: dict[grpc.StatusCode, type[RagserveError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}

# Codes a retry can cure without changing the request.
RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


def error_from_status(
    code: grpc.StatusCode,
    message: str,
    trailing: Metadata | None = None,
    initial: Metadata | None = None,
) -> RagserveError:
    """The exception for a failed call, with the rich details its trailers carry."""
    retry_delay_s: float | None = None
    field: str | None = None
    trace_id: str | None = None
    for key, value in [*(initial or ()), *(trailing or ())]:
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            retry_from_details, field = _decode_details(value)
            retry_delay_s = retry_from_details if retry_from_details is not None else retry_delay_s
        elif key == RETRY_AFTER_KEY and retry_delay_s is None:
            retry_delay_s = _milliseconds(value)
        elif key == TRACE_ID_KEY and isinstance(value, str):
            trace_id = value
    cls = ERROR_BY_CODE.get(code, InternalError)
    return cls(code, message, retry_delay_s=retry_delay_s, field=field, trace_id=trace_id)


def error_from_rpc(error: grpc.RpcError) -> RagserveError:
    """The exception for a ``grpc.RpcError`` raised by a sync call."""
    call = error if isinstance(error, grpc.Call) else None
    if call is None:
        return InternalError(grpc.StatusCode.UNKNOWN, str(error))
    return error_from_status(
        call.code(), call.details() or "", call.trailing_metadata(), call.initial_metadata()
    )


def error_from_aio(error: grpc.aio.AioRpcError) -> RagserveError:
    """The exception for a ``grpc.aio.AioRpcError``."""
    return error_from_status(
        error.code(),
        error.details() or "",
        _pairs(error.trailing_metadata()),
        _pairs(error.initial_metadata()),
    )


def error_from_exception(error: grpc.RpcError) -> RagserveError:
    """The exception for an error either client's calls raise (grpc.aio's are subclasses)."""
    if isinstance(error, grpc.aio.AioRpcError):
        return error_from_aio(error)
    return error_from_rpc(error)


def _pairs(metadata: object) -> list[tuple[str, str | bytes]]:
    """grpc.aio metadata (an iterable of key/value items) as plain pairs."""
    pairs: list[tuple[str, str | bytes]] = []
    for item in metadata or ():  # type: ignore[attr-defined]
        key, value = item
        pairs.append((str(key), value))
    return pairs


def _decode_details(value: bytes) -> tuple[float | None, str | None]:
    """(retry delay, bad field) from a serialized google.rpc.Status; junk yields neither."""
    try:
        status = status_pb2.Status.FromString(value)
    except Exception:  # a malformed trailer must not hide the real error
        return None, None
    retry_delay_s: float | None = None
    field: str | None = None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            retry_delay_s = info.retry_delay.ToNanoseconds() / 1e9
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            if bad_request.field_violations:
                field = bad_request.field_violations[0].field
    return retry_delay_s, field


def _milliseconds(value: str | bytes) -> float | None:
    try:
        milliseconds = float(value.decode() if isinstance(value, bytes) else value)
    except ValueError:
        return None
    return milliseconds / 1000 if milliseconds >= 0 else None
