"""A failed call to an internal service, as the error the public caller gets.

The internal message is kept where it helps the caller (it names the field or
the missing collection); transport failures are reported without internal
addresses. An internal PERMISSION_DENIED / UNAUTHENTICATED cannot be the
caller's doing (the gateway decided those already), so it is UNAVAILABLE, as
is an internal INTERNAL: the suite could not do the work now.
"""

from __future__ import annotations

from typing import Any

import grpc

from ragserve import errors
from ragserve.runtime.errors import decode_details, retry_after_s

_MAX_MESSAGE = 1024


def _trailers(error: grpc.aio.AioRpcError) -> list[tuple[str, str | bytes]]:
    metadata: Any = error.trailing_metadata() or ()
    return [(str(key), value) for key, value in metadata]


def _field_violation(error: grpc.aio.AioRpcError) -> tuple[str, str] | None:
    from google.rpc import error_details_pb2

    status = decode_details(_trailers(error))
    if status is None:
        return None
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request) and bad_request.field_violations:
            violation = bad_request.field_violations[0]
            return violation.field, violation.description
    return None


def translate(error: grpc.aio.AioRpcError, service: str) -> errors.RagserveError:
    code = error.code()
    details = (error.details() or "").strip()[:_MAX_MESSAGE]
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        violation = _field_violation(error)
        if violation is not None:
            return errors.InvalidArgument(*violation)
        return errors.InvalidArgument("", details)
    if code == grpc.StatusCode.NOT_FOUND:
        return errors.NotFound(details)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return errors.AlreadyExists(details)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return errors.FailedPrecondition(details)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return errors.ResourceExhausted(details, retry_after_s(_trailers(error)))
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.DeadlineExceeded(f"the deadline passed in the {service}")
    if code == grpc.StatusCode.CANCELLED:
        return errors.Cancelled(f"cancelled in the {service}")
    if code == grpc.StatusCode.UNAVAILABLE and (
        "connect" in details.lower() or "socket" in details.lower() or not details
    ):
        return errors.Unavailable(f"the {service} is unavailable; retry shortly")
    return errors.Unavailable(f"the {service} could not do the work now: {details}")
