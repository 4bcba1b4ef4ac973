"""Domain errors: what went wrong, in words a caller can act on.

Cores raise these and know nothing of gRPC; the runtime's error table
(``ragserve.runtime.errors``) maps each class to one status code. Anything else
that escapes a handler is a bug and becomes INTERNAL.
"""

from __future__ import annotations

# How much of a caller's value an error message repeats back (see ``quote``).
QUOTE_LIMIT = 64


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``value`` as an error message shows it: ``repr`` of at most ``limit`` characters,
    with the full length when cut, so an error never repeats an unbounded input."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


class RagserveError(Exception):
    """Base of every domain error. ``message`` is shown to the caller as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(RagserveError):
    """The request is malformed; ``field`` names the offending field (dotted path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class NotFound(RagserveError):
    """A named thing (model, collection, document) does not exist."""


class AlreadyExists(RagserveError):
    """Creating something whose name is taken."""


class FailedPrecondition(RagserveError):
    """The system is not in a state that allows the call (e.g. model not ready)."""


class ResourceExhausted(RagserveError):
    """Overload, rate limit or budget; ``retry_after_s`` tells when a retry may succeed."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(RagserveError):
    """A dependency is down or unreachable; the call may succeed later."""


class DeadlineExceeded(RagserveError):
    """The caller's deadline (or the request's own timeout) passed before the work finished."""


class Cancelled(RagserveError):
    """The caller went away; the work was dropped."""


class Unauthenticated(RagserveError):
    """No or bad credentials."""


class PermissionDenied(RagserveError):
    """Credentials are good but do not allow this call (e.g. another tenant's data)."""


__all__ = [
    "AlreadyExists",
    "Cancelled",
    "DeadlineExceeded",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "RagserveError",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "quote",
]
