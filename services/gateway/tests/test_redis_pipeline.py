"""The pipelined Redis connection of the rate limiter, against a real Redis (and, for a
Redis that stops answering, a socket that accepts commands and never replies)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis as redis_sync
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ragserve.gateway.redis_pipeline import PipelinedRedis
from ragserve.testkit.ports import free_port
from ragserve.testkit.redis_server import RedisServer, redis_binary


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest_asyncio.fixture
async def pipelined(redis: RedisServer) -> AsyncIterator[PipelinedRedis]:
    client = PipelinedRedis(redis.url, timeout_s=2.0)
    yield client
    await client.close()


async def test_concurrent_commands_each_get_their_own_reply(pipelined: PipelinedRedis) -> None:
    replies = await asyncio.gather(*(pipelined.execute("ECHO", f"m{n}") for n in range(300)))
    assert replies == [f"m{n}".encode() for n in range(300)]
    counts = await asyncio.gather(*(pipelined.execute("INCR", "n") for _ in range(100)))
    assert sorted(counts) == list(range(1, 101))


async def test_error_replies_raise_redis_py_errors_and_the_connection_stays(
    pipelined: PipelinedRedis,
) -> None:
    with pytest.raises(NoScriptError, match="NOSCRIPT"):
        await pipelined.execute("EVALSHA", "0" * 40, 0)
    with pytest.raises(ResponseError, match="unknown command"):
        await pipelined.execute("NO-SUCH-COMMAND")
    assert await pipelined.execute("PING") == b"PONG"


async def test_the_database_of_the_url_is_selected(redis: RedisServer) -> None:
    url = f"redis://127.0.0.1:{redis.port}/3"
    client = PipelinedRedis(url, timeout_s=2.0)
    reference = aioredis.Redis.from_url(url)
    try:
        await client.execute("SET", "where", "db3")
        assert await reference.get("where") == b"db3"
    finally:
        await client.close()
        await reference.aclose()


async def test_a_restarted_redis_costs_no_failed_command(redis: RedisServer) -> None:
    client = PipelinedRedis(redis.url, timeout_s=2.0)
    try:
        assert await client.execute("PING") == b"PONG"
        redis.kill()
        restarted = RedisServer(port=redis.port).start()
        try:
            # The old connection is found dead (now or on this very command), and the
            # command goes again on a new one.
            assert await client.execute("PING") == b"PONG"
        finally:
            restarted.kill()
    finally:
        await client.close()


async def test_no_redis_is_a_connection_error(redis: RedisServer) -> None:
    client = PipelinedRedis(redis.url, timeout_s=2.0)
    redis.kill()
    with pytest.raises(RedisConnectionError):
        await client.execute("PING")
    await client.close()


async def test_a_silent_redis_times_out_every_command_and_the_next_one_reconnects() -> None:
    accepted: list[asyncio.StreamWriter] = []
    answer = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        while data := await reader.read(65536):
            if answer.is_set():  # the second connection answers every PING
                writer.write(b"+PONG\r\n" * data.count(b"PING"))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = PipelinedRedis(f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
    try:
        started = time.monotonic()
        results = await asyncio.gather(
            client.execute("PING"), client.execute("PING"), return_exceptions=True
        )
        # The first to expire fails the connection, and with it the other command.
        assert time.monotonic() - started < 1.5
        assert any(isinstance(r, RedisTimeoutError) for r in results)
        assert all(isinstance(r, RedisConnectionError | RedisTimeoutError) for r in results)
        answer.set()
        assert await client.execute("PING") == b"PONG"
        assert len(accepted) == 2
    finally:
        await client.close()
        server.close()
        for writer in accepted:
            writer.close()
        await server.wait_closed()


@pytest.fixture
def redis_with_password() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--requirepass", "s3cret"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis_sync.Redis(port=port, password="s3cret", retry_on_error=[])
        deadline = time.monotonic() + 15
        while True:  # redis-server accepts connections a moment after it starts (as testkit)
            try:
                client.ping()
                break
            except redis_sync.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
        client.close()
        yield port
    finally:
        process.kill()
        process.wait()


async def test_the_password_of_the_url_is_sent(redis_with_password: int) -> None:
    port = redis_with_password
    client = PipelinedRedis(f"redis://:s3cret@127.0.0.1:{port}/0", timeout_s=2.0)
    assert await client.execute("PING") == b"PONG"
    await client.close()
    wrong = PipelinedRedis(f"redis://:wrong@127.0.0.1:{port}/0", timeout_s=2.0)
    with pytest.raises(RedisConnectionError, match="redis refused AUTH"):
        await wrong.execute("PING")
    await wrong.close()


async def test_a_server_that_does_not_speak_redis_is_a_connection_error() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = PipelinedRedis(f"redis://127.0.0.1:{port}/0", timeout_s=2.0)
    try:
        with pytest.raises(RedisConnectionError, match="unreadable reply"):
            await client.execute("PING")
    finally:
        await client.close()
        server.close()
