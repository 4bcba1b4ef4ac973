"""Gateway benchmark: what the public edge adds to a query, side by side in one run.

Starts the suite as real processes (Redis, inference, retrieval on Qdrant Edge, the
embedding router, the orchestrator) and a gateway in front, creates one collection through
the gateway and fills it with ``--chunks`` real passages with their real embeddings,
written straight into retrieval (benchmarks/bulk_collection.py: the same set the query
benchmark uses), waits for retrieval's HNSW build once it passes its index threshold,
then measures, alternating the two paths call by call so both see the same machine:

- one client, the project corpus's 30 queries in turn (their embeddings cached by a
  warm-up pass), ``top_k`` 5, hits only: p50/p99 through the gateway and straight to the orchestrator,
  the difference (what the gateway adds: key check, rate limit in Redis, validation,
  conversion, one more gRPC hop), and each hop's share from the final event's stage
  timings (embed, search, merge) against the end-to-end time;
- GetCollection through the gateway and direct: a unary call with little work below (the
  orchestrator reads the collection's counts from retrieval), a second view of what the
  edge and its extra hop cost;
- queries/s at saturation with ``--clients`` concurrent clients on each path.

The clients run in a child process (the parent reads every service's log lines, which
would otherwise compete with the clients for the GIL). Prints a markdown table and writes
it to ``docs/bench/gateway.md`` (not with ``--smoke``). ``--chunks 100000`` is the
published size.
Run: ``uv run python -m benchmarks.gateway.bench_gateway [--smoke]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from benchmarks.bulk_collection import add_passages, index_state, real_passages, wait_for_index
from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as orch
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc as orch_grpc
from ragserve.api.retrieval.v1 import retrieval_pb2_grpc
from ragserve.testkit.gateway import admin_key, bearer, create_key, gateway_env
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.suite import start_suite

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = "bench"
TENANT = "bench"
CORPUS_QUERIES = ROOT / "services" / "orchestrator" / "tests" / "data" / "corpus" / "queries.json"
MODEL = "all-minilm-l6-v2"


def queries() -> list[str]:
    return [case["query"] for case in json.loads(CORPUS_QUERIES.read_text())]


async def fill(
    gateway: str, retrieval: ServiceProcess, key: str, chunks: int, threshold: int
) -> tuple[str, str]:
    """Creates the collection through the gateway and fills it with ``chunks`` real
    passages; returns (retrieval's index build line, the index state)."""
    texts, vectors = real_passages(chunks)
    async with (
        grpc.aio.insecure_channel(gateway) as channel,
        grpc.aio.insecure_channel(retrieval.address) as retrieval_channel,
    ):
        stub = pb_grpc.GatewayServiceStub(channel)
        await stub.CreateCollection(
            pb.CreateCollectionRequest(name=COLLECTION, model=MODEL),
            metadata=bearer(key),
            timeout=60,
        )
        internal = retrieval_pb2_grpc.RetrievalServiceStub(retrieval_channel)
        await add_passages(internal, TENANT, COLLECTION, texts[:chunks], vectors[:chunks])
        build = await asyncio.to_thread(
            wait_for_index, retrieval, COLLECTION, chunks, threshold, 3600.0
        )
        return build, await index_state(internal, TENANT, COLLECTION)


def bench_key(gateway: str, state: Path) -> str:
    """A read/write key of the bench tenant, made with the suite's bootstrap admin key."""
    with grpc.insecure_channel(gateway) as channel:
        return create_key(
            pb_grpc.GatewayServiceStub(channel),
            admin_key(state),
            TENANT,
            [pb.PERMISSION_READ, pb.PERMISSION_WRITE],
        ).secret


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99)] * 1000


async def measure(
    gateway: str, orchestrator: str, key: str, count: int, clients: int, seconds: float
) -> dict[str, Any]:
    async with (
        grpc.aio.insecure_channel(gateway) as gateway_channel,
        grpc.aio.insecure_channel(orchestrator) as orchestrator_channel,
    ):
        public = pb_grpc.GatewayServiceStub(gateway_channel)
        internal = orch_grpc.OrchestratorServiceStub(orchestrator_channel)
        metadata = bearer(key)
        texts = queries()
        turn = [0]  # the query text of this round: both paths ask the same one

        def text() -> str:
            return texts[turn[0] % len(texts)]

        async def through_gateway() -> dict[int, float]:
            stages: dict[int, float] = {}
            request = pb.QueryRequest(collections=[COLLECTION], query=text(), top_k=5)
            async for event in public.Query(request, metadata=metadata, timeout=30):
                if event.WhichOneof("event") == "done":
                    for timing in event.done.timings:
                        stages[timing.stage] = stages.get(timing.stage, 0.0) + timing.duration_ms
            return stages

        async def direct() -> dict[int, float]:
            request = orch.QueryRequest(
                tenant=TENANT, collections=[COLLECTION], query=text(), top_k=5
            )
            async for _ in internal.Query(request, timeout=30):
                pass
            return {}

        # A unary call with little work below the gateway: the edge's cost plus a hop.
        async def get_through_gateway() -> dict[int, float]:
            await public.GetCollection(
                pb.GetCollectionRequest(name=COLLECTION), metadata=metadata, timeout=30
            )
            return {}

        async def get_direct() -> dict[int, float]:
            await internal.GetCollection(
                orch.GetCollectionRequest(tenant=TENANT, name=COLLECTION), timeout=30
            )
            return {}

        paths = (
            ("gateway", through_gateway),
            ("direct", direct),
            ("get_gateway", get_through_gateway),
            ("get_direct", get_direct),
        )
        for turn[0] in range(len(texts)):  # warm-up: channels, caches, every query's embedding
            for _, call in paths:
                await call()
        samples: dict[str, list[float]] = {name: [] for name, _ in paths}
        stage_sums: dict[int, list[float]] = {}
        for turn[0] in range(count):
            for name, call in paths:
                started = time.perf_counter()
                stages = await call()
                samples[name].append(time.perf_counter() - started)
                for stage, ms in stages.items():
                    stage_sums.setdefault(stage, []).append(ms)

        async def saturate(call: Callable[[], Awaitable[object]]) -> float:
            done = 0
            stop = time.perf_counter() + seconds

            async def client() -> None:
                nonlocal done
                while time.perf_counter() < stop:
                    turn[0] += 1
                    await call()
                    done += 1

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(clients)))
            return done / (time.perf_counter() - started)

        return {
            "gateway": _percentiles(samples["gateway"]),
            "direct": _percentiles(samples["direct"]),
            "get_gateway": _percentiles(samples["get_gateway"]),
            "get_direct": _percentiles(samples["get_direct"]),
            "stages": {stage: statistics.median(v) for stage, v in stage_sums.items()},
            "qps_gateway": await saturate(through_gateway),
            "qps_direct": await saturate(direct),
        }


def _child(args: tuple[str, str, str, int, int, float], queue: Any) -> None:
    queue.put(asyncio.run(measure(*args)))


def _result(queue: Any, child: Any) -> dict[str, Any]:
    import queue as queues

    while True:
        try:
            result: dict[str, Any] = queue.get(timeout=1.0)
        except queues.Empty:
            if not child.is_alive():
                raise RuntimeError(f"the client process died (exit {child.exitcode})") from None
            continue
        child.join()
        return result


def table(result: dict[str, Any], chunks: int, clients: int, build: str, state: str) -> str:
    (g50, g99), (d50, d99) = result["gateway"], result["direct"]
    names = {
        pb.STAGE_EMBED: "embed (router, cached)",
        pb.STAGE_SEARCH: "search (retrieval)",
        pb.STAGE_MERGE: "merge",
    }
    lines = [
        f"Query at {chunks} chunks (real passages, real embeddings; index {state}), top_k 5, "
        "hits only, the corpus's 30 queries in turn with their embeddings cached; one client, "
        "the two paths alternating call by call; "
        f"{platform.machine()}, {os.cpu_count()} cores.",
        "",
        "| path | p50 ms | p99 ms | queries/s at " + f"{clients} clients |",
        "| --- | --- | --- | --- |",
        f"| client → gateway → orchestrator | {g50:.2f} | {g99:.2f} | {result['qps_gateway']:.0f} |",
        f"| client → orchestrator | {d50:.2f} | {d99:.2f} | {result['qps_direct']:.0f} |",
        f"| gateway adds | {g50 - d50:+.2f} | {g99 - d99:+.2f} | |",
        f"| GetCollection: gateway / direct | {result['get_gateway'][0]:.2f} / "
        f"{result['get_direct'][0]:.2f} | {result['get_gateway'][1]:.2f} / "
        f"{result['get_direct'][1]:.2f} | |",
        "",
        "| hop (median of the final event's stage timings) | ms | share of the gateway p50 |",
        "| --- | --- | --- |",
    ]
    for stage, ms in sorted(result["stages"].items()):
        lines.append(f"| {names.get(stage, str(stage))} | {ms:.2f} | {ms / g50:.0%} |")
    lines.append(f"| gateway (edge + one hop) | {g50 - d50:.2f} | {(g50 - d50) / g50:.0%} |")
    lines += ["", f"Index build: {build or 'none (below the index threshold)'}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument(
        "--index-threshold", type=int, default=100_000, help="retrieval's, set explicitly"
    )
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; writes no table")
    args = parser.parse_args()
    if args.smoke:
        args.chunks, args.queries, args.clients, args.seconds = 500, 20, 4, 1.0
    # The killed retrieval worker may still be writing while the directory goes.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        state = Path(tmp)
        suite = start_suite(
            state / "retrieval",
            retrieval_env={"RAGSERVE_RETRIEVAL_INDEX_THRESHOLD": str(args.index_threshold)},
        )
        gateway: ServiceProcess | None = None
        try:
            env = gateway_env(
                state, suite.redis.url, requests_per_s="1000000", texts_per_s="1000000"
            )
            env["RAGSERVE_ORCHESTRATOR_ADDR"] = suite.orchestrator.address
            env["RAGSERVE_EMBEDDING_ROUTER_ADDR"] = suite.router.address
            gateway = ServiceProcess("gateway", env).start()
            key = bench_key(gateway.address, state)
            build, index = asyncio.run(
                fill(gateway.address, suite.retrieval, key, args.chunks, args.index_threshold)
            )
            queue: Any = multiprocessing.get_context("spawn").Queue()
            child = multiprocessing.get_context("spawn").Process(
                target=_child,
                args=(
                    (
                        gateway.address,
                        suite.orchestrator.address,
                        key,
                        args.queries,
                        args.clients,
                        args.seconds,
                    ),
                    queue,
                ),
            )
            child.start()
            result = _result(queue, child)
        finally:
            if gateway is not None:
                gateway.stop()
            suite.stop()
    text = table(result, args.chunks, args.clients, build, index)
    print(text)
    if not args.smoke:
        out = ROOT / "docs" / "bench" / "gateway.md"
        out.write_text("# Gateway benchmark\n\n" + text)
        print(f"written to {out}")


if __name__ == "__main__":
    main()
