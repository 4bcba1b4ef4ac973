"""The service's end of the embedded worker's socket, served by the event loop itself.

The worker keeps a plain ``multiprocessing.connection.Connection`` (blocking ``recv`` and
``send``); this side speaks the same framing (a 4-byte big-endian signed length, or -1
and an 8-byte length for a message of 2 GiB or more, then the pickle) through an asyncio
transport. Before, a sender thread wrote each request and a reader thread delivered each
reply with ``call_soon_threadsafe``: two thread hand-offs per call, which on a busy machine
cost more than a small search itself. A transport never blocks the loop: what the socket
cannot take at once is buffered and written as it drains, and a sender waits while the
buffer is over its high-water mark (back-pressure, as the one sender thread gave).
"""

from __future__ import annotations

import asyncio
import multiprocessing.connection
import pickle
import socket
import struct
from collections.abc import Callable
from typing import Any, cast

_LENGTH = struct.Struct("!i")
_LONG_LENGTH = struct.Struct("!Q")
# Connection's framing: lengths that do not fit a signed 32-bit int are sent as -1 and 8 bytes.
_LONG = -1
_MAX_SHORT = 0x7FFFFFFF
# Messages up to this size are sent with their header in one write.
_JOIN_BELOW = 64 * 1024


def frame(message: Any) -> tuple[bytes, bytes]:
    """The bytes ``Connection.send(message)`` would write: the header, then the pickle
    (a plain one: ForkingPickler copies a dispatch table per message for reducers of
    sockets and connections, which requests never carry)."""
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    if len(data) > _MAX_SHORT:
        return _LENGTH.pack(_LONG) + _LONG_LENGTH.pack(len(data)), data
    return _LENGTH.pack(len(data)), data


class WorkerChannel(asyncio.Protocol):
    """Delivers each message from the worker to ``on_message`` and the end of the stream
    (the worker exited, or the channel was closed) once to ``on_lost``; both on the loop."""

    def __init__(self, on_message: Callable[[Any], None], on_lost: Callable[[], None]) -> None:
        self._on_message = on_message
        self._on_lost = on_lost
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._resumed: asyncio.Future[None] | None = None
        self._lost = False

    # ------------------------------------------------------------------ opening

    @staticmethod
    def pair() -> tuple[socket.socket, multiprocessing.connection.Connection]:
        """This side's socket and the worker's Connection, to hand to its process."""
        mine, theirs = socket.socketpair()
        return mine, multiprocessing.connection.Connection(theirs.detach())

    @classmethod
    async def open(
        cls,
        sock: socket.socket,
        on_message: Callable[[Any], None],
        on_lost: Callable[[], None],
    ) -> WorkerChannel:
        loop = asyncio.get_running_loop()
        _, channel = await loop.connect_accepted_socket(lambda: cls(on_message, on_lost), sock=sock)
        return channel

    # ------------------------------------------------------------------ sending

    async def send(self, message: Any) -> None:
        """Write one message; waits only while the unsent buffer is over its high-water
        mark. Raises ConnectionError when the channel is already lost."""
        transport = self._transport
        if self._lost or transport is None or transport.is_closing():
            raise ConnectionResetError("the worker's channel is closed")
        header, data = frame(message)
        if len(data) <= _JOIN_BELOW:
            transport.write(header + data)  # one send for the usual small request
        else:
            transport.write(header)  # no copy of a big batch just to prepend 4 bytes
            transport.write(data)
        while self._resumed is not None and not self._lost:
            await asyncio.shield(self._resumed)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's stream transports implement the Transport
        # interface without being registered with asyncio's classes, and an assertion failing
        # here (in a loop callback) only got logged while the worker's start timed out.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer)
            header = _LENGTH.size
            if size == _LONG:
                if len(buffer) < _LENGTH.size + _LONG_LENGTH.size:
                    return
                (size,) = _LONG_LENGTH.unpack_from(buffer, _LENGTH.size)
                header += _LONG_LENGTH.size
            end = header + size
            if len(buffer) < end:
                return
            message = pickle.loads(buffer[header:end])
            del buffer[:end]
            self._on_message(message)

    def pause_writing(self) -> None:
        if self._resumed is None:
            self._resumed = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._release_senders()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._release_senders()
        self._on_lost()

    def _release_senders(self) -> None:
        resumed, self._resumed = self._resumed, None
        if resumed is not None and not resumed.done():
            resumed.set_result(None)
