"""A failed call to a peer, as a domain error the core and the error table understand.

The peer's message is kept (it names the field or the thing missing) and prefixed with the
peer, so a caller reading an UNAVAILABLE knows which hop failed.
"""

from __future__ import annotations

from typing import Any

import grpc

from ragserve import errors
from ragserve.runtime.errors import RETRY_AFTER_KEY


def _retry_after_s(error: grpc.aio.AioRpcError) -> float | None:
    metadata: Any = error.trailing_metadata() or ()
    for key, value in metadata:
        if key == RETRY_AFTER_KEY:
            try:
                return int(value) / 1000.0
            except (TypeError, ValueError):
                return None
    return None


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
        return errors.ResourceExhausted(message, _retry_after_s(error))
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.DeadlineExceeded(message)
    if code == grpc.StatusCode.CANCELLED:
        return errors.Cancelled(message)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return errors.PermissionDenied(message)
    # UNAVAILABLE, and a peer's INTERNAL/UNKNOWN: the peer could not do it now.
    return errors.Unavailable(message)
