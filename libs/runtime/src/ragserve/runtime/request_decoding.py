"""Requests whose bytes cannot be decoded are the caller's mistake: INVALID_ARGUMENT.

grpcio decodes a request before any interceptor sees it, and a decoding error
(truncated or garbage bytes, invalid UTF-8 in a string field, nesting past
protobuf's limit) becomes UNKNOWN "Unexpected DecodeError" on every service.
The runtime wraps each handler's deserializer instead: a unary request that
fails becomes an :class:`UndecodableRequest` the call wrapper answers with
INVALID_ARGUMENT; a message of a request stream raises ``InvalidArgument``
where the servicer reads it, which the error table maps the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ragserve.errors import InvalidArgument

Deserializer = Callable[[bytes], Any]


class UndecodableRequest:
    """Stands in for a unary request that could not be decoded."""

    __slots__ = ("error",)

    def __init__(self, error: InvalidArgument) -> None:
        self.error = error


def _message_type(deserialize: Deserializer) -> str:
    # Generated stubs pass ``Message.FromString``: its class names the type.
    owner = getattr(deserialize, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    name = getattr(descriptor, "full_name", None)
    return name if isinstance(name, str) else "the request message"


def _undecodable(type_name: str, error: Exception) -> InvalidArgument:
    return InvalidArgument(
        "request",
        f"cannot be decoded as {type_name} ({type(error).__name__}): the bytes are truncated, "
        "malformed, nested too deeply, or hold invalid UTF-8 in a string field",
    )


def guard(deserialize: Deserializer | None, *, streaming: bool) -> Deserializer | None:
    """``deserialize`` that turns a decoding failure into the caller's error."""
    if deserialize is None:
        return None
    type_name = _message_type(deserialize)
    if streaming:

        def guarded_stream_message(data: bytes) -> Any:
            try:
                return deserialize(data)
            except Exception as error:
                raise _undecodable(type_name, error) from None

        return guarded_stream_message

    def guarded_request(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception as error:
            return UndecodableRequest(_undecodable(type_name, error))

    return guarded_request
