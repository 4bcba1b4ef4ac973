"""A failed call to a peer, as a domain error the core and the error table understand.

The peer's message is kept (it names the field or the thing missing) and prefixed with the
peer, so a caller reading an UNAVAILABLE knows which hop failed.
"""

from __future__ import annotations

import grpc

from ragserve import errors
from ragserve.runtime.errors import retry_after_s


def translate(error: grpc.aio.AioRpcError, peer: str) -> errors.RagserveError:
    code = error.code()
    details = (error.details() or "").strip()
    message = f"{peer}: {details}" if details else f"{peer}: {code.name}"
    if code == grpc.StatusCode.NOT_FOUND:
        return errors.NotFound(details or message)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return errors.AlreadyExists(details or message)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return errors.InvalidArgument("", message)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return errors.FailedPrecondition(message)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return errors.ResourceExhausted(message, retry_after_s(error.trailing_metadata()))
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.DeadlineExceeded(message)
    if code == grpc.StatusCode.CANCELLED:
        return errors.Cancelled(message)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return errors.PermissionDenied(message)
    # UNAVAILABLE, and a peer's INTERNAL/UNKNOWN: the peer could not do it now.
    return errors.Unavailable(message)
