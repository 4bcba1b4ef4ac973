"""Embedding router benchmark: what the router costs on top of the inference service.

Starts real processes (Redis, one inference-service replica, the router) and measures, in one run:

- a cache miss through the router vs the same text sent straight to the inference service
  (``ModelInfer``), one client, one text per call: p50/p99 and the ratio;
- a cache hit through the router (the in-process LRU answers): p50/p99 (target p50 <= 1 ms);
- throughput with 64 concurrent clients, one text per call, all misses and all hits.

Prints a markdown table and writes it to ``docs/bench/embedding-router.md``.
Run: ``uv run python benchmarks/embedding_router/bench_router.py [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import struct
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.api.inference.v1 import inference_pb2, inference_pb2_grpc
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
MODEL = "all-minilm-l6-v2"


def _infer_request(text: str) -> inference_pb2.ModelInferRequest:
    request = inference_pb2.ModelInferRequest(model_name=MODEL)
    tensor = request.inputs.add()
    tensor.name, tensor.datatype = "text", "BYTES"
    tensor.shape.extend([1, 1])
    data = text.encode()
    request.raw_input_contents.append(struct.pack("<I", len(data)) + data)
    return request


def _text(n: int) -> str:
    return f"benchmark sentence number {n} about routing embeddings through a cache"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 * 1000, p99 * 1000


async def _sequential(call: Callable[[int], Awaitable[object]], count: int) -> list[float]:
    samples = []
    for n in range(count):
        started = time.perf_counter()
        await call(n)
        samples.append(time.perf_counter() - started)
    return samples


async def _throughput(
    call: Callable[[int], Awaitable[object]], clients: int, seconds: float
) -> float:
    stop = time.monotonic() + seconds
    counter = iter(range(10**9))
    done = 0

    async def client() -> None:
        nonlocal done
        while time.monotonic() < stop:
            await call(next(counter))
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.monotonic() - started)


async def measure(router: str, inference: str, samples: int, seconds: float) -> list[list[str]]:
    async with (
        grpc.aio.insecure_channel(router) as router_channel,
        grpc.aio.insecure_channel(inference) as inference_channel,
    ):
        embed = embedding_pb2_grpc.EmbeddingRouterServiceStub(router_channel)
        infer = inference_pb2_grpc.GRPCInferenceServiceStub(inference_channel)
        offset = 0

        async def direct(n: int) -> object:
            return await infer.ModelInfer(_infer_request(_text(offset + n)), timeout=30)

        async def miss(n: int) -> object:
            return await embed.Embed(
                embedding_pb2.EmbedRequest(tenant="bench", model=MODEL, texts=[_text(offset + n)]),
                timeout=30,
            )

        async def hit(n: int) -> object:
            return await embed.Embed(
                embedding_pb2.EmbedRequest(tenant="bench", model=MODEL, texts=[_text(-1)]),
                timeout=30,
            )

        # Warm both paths (connections, first-run costs) on texts not measured.
        offset = 10_000_000
        await _sequential(direct, 20)
        await _sequential(miss, 20)
        await hit(0)
        await _sequential(hit, 50)

        rows: list[list[str]] = []
        offset = 0
        direct_p = _percentiles(await _sequential(direct, samples))
        offset = 100_000
        miss_p = _percentiles(await _sequential(miss, samples))
        hit_p = _percentiles(await _sequential(hit, samples * 5))
        offset = 200_000
        direct_tp = await _throughput(direct, 64, seconds)
        offset = 20_000_000
        miss_tp = await _throughput(miss, 64, seconds)
        hit_tp = await _throughput(hit, 64, seconds)

        rows.append(
            [
                "inference ModelInfer, direct (baseline)",
                f"{direct_p[0]:.2f}",
                f"{direct_p[1]:.2f}",
                f"{direct_tp:.0f}",
                "1.00",
            ]
        )
        rows.append(
            [
                "router Embed, cache miss",
                f"{miss_p[0]:.2f}",
                f"{miss_p[1]:.2f}",
                f"{miss_tp:.0f}",
                f"{miss_p[0] / direct_p[0]:.2f}",
            ]
        )
        rows.append(
            [
                "router Embed, cache hit",
                f"{hit_p[0]:.2f}",
                f"{hit_p[1]:.2f}",
                f"{hit_tp:.0f}",
                f"{hit_p[0] / direct_p[0]:.2f}",
            ]
        )
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="embedding router benchmark")
    parser.add_argument("--samples", type=int, default=200, help="sequential calls per latency")
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput run")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "embedding-router.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, RedisServer() as redis_server:
        inference = ServiceProcess(
            "inference",
            env={"RAGSERVE_INFERENCE_MODELS": MODEL},
        ).start(timeout_s=120)
        config = Path(tmp) / "providers.json"
        config.write_text(
            json.dumps(
                {
                    "models": [{"id": MODEL, "version": "1", "dimension": 384}],
                    "providers": [
                        {
                            "id": "inference",
                            "model": MODEL,
                            "kind": "inference",
                            "endpoints": [inference.address],
                            "remote_model": MODEL,
                            "input_name": "text",
                            "output_name": "embedding",
                            "max_batch": 32,
                            "max_batch_wait_s": 0.0,
                        }
                    ],
                    "cache": {"redis_url": redis_server.url, "lru_size": 100_000},
                }
            )
        )
        router = ServiceProcess(
            "embedding_router",
            env={
                "RAGSERVE_EMBEDDING_ROUTER_PROVIDERS_FILE": str(config),
            },
        ).start(timeout_s=60)
        try:
            rows = asyncio.run(
                measure(router.address, inference.address, args.samples, args.seconds)
            )
        finally:
            router.stop()
            inference.stop()

    header = [
        "path (1 text per call)",
        "p50 ms (1 client)",
        "p99 ms (1 client)",
        "calls/s (64 clients)",
        "p50 / baseline",
    ]
    lines = [
        "# Embedding router benchmark",
        "",
        f"Measured by `benchmarks/embedding_router/bench_router.py` on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}: Redis, one inference "
        "replica (CPU, all-MiniLM-L6-v2) and the router as separate processes on one machine; "
        f"{args.samples} sequential calls per latency ({args.samples * 5} for hits), "
        f"{args.seconds:g} s per throughput run. Every miss is a text never seen before.",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "The cache-hit target is p50 <= 1 ms. All processes share the same cores, so under 64 "
        "clients the router, the inference service and the benchmark compete for CPU.",
        "",
    ]
    table = "\n".join(lines)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)


if __name__ == "__main__":
    main()
