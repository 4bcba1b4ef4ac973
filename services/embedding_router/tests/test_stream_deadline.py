"""The router as a process, against a provider that never answers: a stream whose deadline
passes mid-way ends with DEADLINE_EXCEEDED and leaves nothing behind in the router's log (no
"different Context" token errors, no task destroyed pending or exception never retrieved).
Bytes that do not decode are the caller's mistake. Waits are on log lines, never sleeps."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import grpc
import numpy as np
import pytest

from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.testkit.openai_server import OpenAIEmbeddingServer
from ragserve.testkit.processes import ServiceProcess

SERVICE = "ragserve.api.embedding.v1.EmbeddingRouterService"


def _zeros(texts: Sequence[str]) -> np.ndarray:
    return np.zeros((len(texts), 384), dtype=np.float32)


@pytest.fixture(scope="module")
def hanging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAIEmbeddingServer]:
    server = OpenAIEmbeddingServer(_zeros).start()
    server.set_mode("hang")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def router(
    hanging: OpenAIEmbeddingServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    config: Path = tmp_path_factory.mktemp("router") / "providers.json"
    config.write_text(
        json.dumps(
            {
                "models": [{"id": "m", "version": "1", "dimension": 384}],
                "providers": [
                    {
                        "id": "silent",
                        "model": "m",
                        "kind": "openai",
                        "endpoints": [hanging.url],
                        "max_batch": 4,
                    }
                ],
            }
        )
    )
    process = ServiceProcess(
        "embedding_router", env={"RAGSERVE_EMBEDDING_ROUTER_PROVIDERS_FILE": str(config)}
    )
    with process:
        yield process


def _problems(router: ServiceProcess) -> list[str]:
    return [
        f"{r.get('logger')}: {r.get('message')} {r.get('exception', '')}"
        for r in router.records()
        if r.get("level") in ("WARNING", "ERROR", "CRITICAL")
    ]


async def test_a_stream_past_its_deadline_leaves_no_errors_behind(router: ServiceProcess) -> None:
    async def batches() -> AsyncIterator[embedding_pb2.EmbedStreamRequest]:
        for n in range(3):
            yield embedding_pb2.EmbedStreamRequest(
                tenant="t", model="m", batch_id=f"b{n}", texts=[f"text {n}"]
            )

    async with grpc.aio.insecure_channel(router.address) as channel:
        stub = embedding_pb2_grpc.EmbeddingRouterServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for _ in stub.EmbedStream(batches(), timeout=0.5):
                pass
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        logged = await _access_line(router, "EmbedStream")
        print("CODE", logged["rpc.code"])
        # A later call's line comes after anything the stream's end logged.
        await stub.ListModels(embedding_pb2.ListModelsRequest(), timeout=10)
        await _access_line(router, "ListModels")
    print("PROBLEMS", _problems(router))
    assert _problems(router) == []


async def test_bytes_that_do_not_decode_are_invalid_argument(router: ServiceProcess) -> None:
    async with grpc.aio.insecure_channel(router.address) as channel:
        embed = channel.unary_unary(
            f"/{SERVICE}/Embed",
            request_serializer=lambda data: data,
            response_deserializer=lambda data: data,
        )
        # Field 1 (tenant, a string) holding bytes that are not UTF-8.
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await embed(b"\x0a\x02\xc3\x28", timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (raised.value.details() or "").startswith(
        "request: cannot be decoded as ragserve.api.embedding.v1.EmbedRequest"
    )
    print("PROBLEMS", _problems(router))
    assert _problems(router) == []


async def _access_line(router: ServiceProcess, method: str) -> dict[str, object]:
    return await asyncio.to_thread(
        router.wait_for_record,
        lambda r: r.get("message") == "rpc" and r.get("rpc.method") == f"/{SERVICE}/{method}",
    )
