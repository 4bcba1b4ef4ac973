"""One pipelined Redis connection for the command every call makes (the rate-limit script).

redis-py's asyncio client takes a connection from its pool, checks it for stray data,
sends, reads and returns it, per command: about 190 µs of Python around a 45 µs
round trip on loopback, the largest of the gateway's own stages of a call
(``benchmarks/gateway/profile_gateway.py``). Here commands are written at once on one
connection shared by every call in flight and their replies, which Redis sends in
order, are matched first in, first out (hiredis parses them): about 60 µs.

A command that gets no reply within ``timeout_s`` fails, and so does the connection:
a reply arriving late would otherwise be matched to the next command. Every command
waiting on a connection that fails gets a :class:`redis.exceptions.ConnectionError`
and the next command opens a new connection; a command whose connection was closed
under it (Redis restarted) is sent once more on a new one, as redis-py retries once.
Errors are redis-py's exceptions (``NoScriptError`` included), so callers handle both
clients alike.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


class _Lost(RedisConnectionError):
    """The connection closed under a command (Redis restarted, or it dropped idle clients)."""


class _Connection(asyncio.Protocol):
    """The socket, the parser and the replies still owed, in the order they were asked."""

    def __init__(self) -> None:
        self._reader = hiredis.Reader()
        self._owed: deque[asyncio.Future[Any]] = deque()
        self._transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as error:  # not Redis speaking: give the socket up
                self.fail(RedisConnectionError(f"unreadable reply from redis: {error}"))
                return
            if reply is False:
                return
            if not self._owed:  # a reply nobody asked for: the stream is out of step
                self.fail(RedisConnectionError("unexpected reply from redis"))
                return
            future = self._owed.popleft()
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_owed(_Lost(f"connection to redis lost: {exc or 'closed'}"))

    def send(self, packed: bytes, future: asyncio.Future[Any]) -> None:
        if self.lost or self._transport is None:
            future.set_exception(_Lost("connection to redis lost"))
            return
        self._owed.append(future)
        self._transport.write(packed)

    def fail(self, error: Exception) -> None:
        """Close the connection; every command waiting on it fails with ``error``."""
        self._fail_owed(error)
        if self._transport is not None:
            self._transport.abort()

    def _fail_owed(self, error: Exception) -> None:
        self.lost = True
        while self._owed:
            future = self._owed.popleft()
            if not future.done():
                future.set_exception(error)


_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def _ssl_context(options: dict[str, Any]) -> ssl.SSLContext:
    """TLS as redis-py reads it from a ``rediss://`` URL's ``ssl_*`` query options."""
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    if options.get("ssl_certfile"):
        context.load_cert_chain(options["ssl_certfile"], options.get("ssl_keyfile"))
    requirement = _CERT_REQS.get(str(options.get("ssl_cert_reqs", "required")).lower())
    if requirement is not None and requirement != ssl.CERT_REQUIRED:
        context.check_hostname = False
        context.verify_mode = requirement
    elif options.get("ssl_check_hostname") is False:
        context.check_hostname = False
    return context


class PipelinedRedis:
    """``execute(*args)`` on one shared connection, opened on first use and after a failure."""

    def __init__(self, url: str, timeout_s: float) -> None:
        options: dict[str, Any] = dict(parse_url(url))
        self._path: str | None = options.get("path")
        self._host: str = options.get("host", "localhost")
        self._port: int = int(options.get("port", 6379))
        self._ssl = (
            _ssl_context(options) if options.get("connection_class") is SSLConnection else None
        )
        self._setup: list[tuple[Any, ...]] = []
        if options.get("password"):
            username = options.get("username")
            self._setup.append(
                ("AUTH", username, options["password"])
                if username
                else ("AUTH", options["password"])
            )
        if int(options.get("db", 0)):
            self._setup.append(("SELECT", int(options["db"])))
        self._timeout_s = timeout_s
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None

    async def execute(self, *args: Any) -> Any:
        """The command's reply; ResponseError (NoScriptError) for an error reply,
        ConnectionError / TimeoutError when Redis cannot be reached in time."""
        packed = hiredis.pack_command(args)
        connection = self._connection
        if connection is None or connection.lost:
            connection = await self._connect()
        try:
            reply = await self._round_trip(connection, packed)
        except _Lost:
            # Once more on a new connection: a connection Redis closed while it sat idle
            # is found out by the first command sent on it (as redis-py's retry of one).
            reply = await self._round_trip(await self._connect(), packed)
        if isinstance(reply, hiredis.ReplyError):
            message = str(reply)
            if message.startswith("NOSCRIPT"):
                raise NoScriptError(message)
            raise ResponseError(message)
        return reply

    async def _round_trip(self, connection: _Connection, packed: bytes) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        connection.send(packed, future)
        # A timer, not asyncio.wait_for: no task per command.
        timer = loop.call_later(self._timeout_s, self._expire, connection, future)
        try:
            return await future
        finally:
            timer.cancel()

    def _expire(self, connection: _Connection, future: asyncio.Future[Any]) -> None:
        if not future.done():
            future.set_exception(
                RedisTimeoutError(f"no reply from redis within {self._timeout_s} s")
            )
            connection.fail(RedisConnectionError("an earlier command timed out"))

    async def _connect(self) -> _Connection:
        # Calls that find no connection together share one attempt.
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
            self._connecting.add_done_callback(self._connected)
        return await asyncio.shield(self._connecting)

    def _connected(self, done: asyncio.Future[_Connection]) -> None:
        self._connecting = None
        if not done.cancelled() and done.exception() is None:
            self._connection = done.result()

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            if self._path is not None:
                opening = loop.create_unix_connection(_Connection, self._path, ssl=self._ssl)
            else:
                opening = loop.create_connection(_Connection, self._host, self._port, ssl=self._ssl)
            _, connection = await asyncio.wait_for(opening, self._timeout_s)
        except TimeoutError:
            raise RedisTimeoutError(f"cannot connect to redis within {self._timeout_s} s") from None
        except OSError as error:
            raise RedisConnectionError(f"cannot connect to redis: {error}") from error
        for command in self._setup:
            reply = await self._round_trip(connection, hiredis.pack_command(command))
            if isinstance(reply, hiredis.ReplyError):
                connection.fail(RedisConnectionError("redis refused the connection set-up"))
                raise RedisConnectionError(f"redis refused {command[0]}: {reply}")
        return connection

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.fail(RedisConnectionError("closed"))
            self._connection = None
