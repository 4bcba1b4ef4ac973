"""What one internal hop costs over the work it does: each hop next to a no-op on a bare server.

Real processes: Redis, the embedding router (its provider is never called: the query's vector
is put in Redis before the first call, so every measured Embed is a cache hit, the first one
from Redis and the rest from the router's in-process LRU), retrieval (embedded engine) with a
small collection (engine work ~0), and servers of this script in processes of their own: a
bare ``grpc.aio`` server and one with the runtime's stack (the interceptor services run
with), each with a no-op unary method and a server stream of 4 small messages.

The clients run in a spawned child process (the parent reads every service's log lines), one
call at a time with a deadline, one call of each path in turn so that a noisy machine moves
every row alike; the median over rounds of each round's p50 and p99 is reported, with the p50
over the bare no-op of the same client kind. ``--baseline`` adds the services of another tree
(``git archive <commit>`` unpacked) to the same rounds, for a before/after from one run.

Unary hops are called from an asyncio client, as the orchestrator calls them, over a plain
channel and over ``create_channel`` (the runtime's client stack: deadline and trace
propagation); server streams from a synchronous client, as the query benchmark's client.

Run: ``uv run python benchmarks/runtime/bench_hops.py [--calls 1000 --rounds 5]``;
``--smoke`` runs a few calls to check the script works. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from ragserve.orchestrator.query.clients import HIT_PAYLOAD_KEYS

# The payload keys the orchestrator asks retrieval for (its hit layout).
from ragserve.runtime.event_loop import run_on_suite_loop

MODEL = "all-minilm-l6-v2"
DIMENSION = 384
TENANT = "bench"
COLLECTION = "hops"
QUERY_TEXT = "what does one internal hop cost over the work it does"
SERVICE = "ragserve.bench.Hops"
UNARY = f"/{SERVICE}/Unary"
STREAM = f"/{SERVICE}/Stream"
STREAM_MESSAGES = 4
STREAM_MESSAGE = b"x" * 96
TIMEOUT_S = 10.0


def _identity(data: bytes) -> bytes:
    return data


# ---------------------------------------------------------------------------- bench servers


async def _serve(stack: bool) -> None:
    interceptors: list[Any] = []
    if stack:
        from ragserve.runtime.logs import configure_logging
        from ragserve.runtime.server import shared_interceptors

        configure_logging("bench")
        interceptors = shared_interceptors()
    server = grpc.aio.server(interceptors=interceptors)

    async def unary(request: bytes, context: Any) -> bytes:
        return b""

    async def stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
        for _ in range(STREAM_MESSAGES):
            yield STREAM_MESSAGE

    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, _identity, _identity),
        "Stream": grpc.unary_stream_rpc_method_handler(stream, _identity, _identity),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


def _serve_main(stack: bool) -> None:
    # The access log is formatted and written as in a service, to nowhere.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 - lives as long as the process
    # On the loop the services run on, so a hop's cost over it is the service's own.
    run_on_suite_loop(_serve(stack))


def _start_server(stack: bool, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """A bench server in a process of its own, with ``env`` (a baseline's PYTHONPATH)."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", "runtime" if stack else "bare"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, f"127.0.0.1:{int(process.stdout.readline())}"


def _baseline_env(tree: Path | None) -> dict[str, str]:
    """The environment that runs a baseline tree's code (``git archive <commit>`` unpacked):
    its libs' and services' sources ahead of this checkout's on PYTHONPATH."""
    if tree is None:
        return dict(os.environ)
    sources = sorted(str(p) for p in tree.glob("*/*/src") if p.parts[-3] in ("libs", "services"))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sources)}


# ---------------------------------------------------------------------------- set-up


def _query_vector() -> np.ndarray[tuple[int], np.dtype[np.float32]]:
    vector = np.random.default_rng(7).standard_normal(DIMENSION).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _seed_cache(redis_url: str) -> None:
    """The query's vector in Redis under the router's key, as if computed before."""
    import redis

    from ragserve.embedding_router.cache import encode_entry

    digest = hashlib.sha256(QUERY_TEXT.encode("utf-8")).hexdigest()
    client = redis.Redis.from_url(redis_url)
    client.set(f"ragserve:emb:v1:{MODEL}:1:{digest}", encode_entry(_query_vector(), "inference"))
    client.close()


def _router_config(path: Path, redis_url: str) -> None:
    path.write_text(
        json.dumps(
            {
                "models": [{"id": MODEL, "version": "1", "dimension": DIMENSION}],
                "providers": [
                    {
                        "id": "inference",
                        "model": MODEL,
                        "kind": "inference",
                        # Never called: every measured text is in the cache.
                        "endpoints": ["127.0.0.1:9"],
                        "remote_model": MODEL,
                        "input_name": "text",
                        "output_name": "embedding",
                    }
                ],
                "cache": {"redis_url": redis_url, "lru_size": 1000},
            }
        )
    )


async def _fill_collection(address: str, points: int) -> None:
    from google.protobuf import struct_pb2

    from ragserve.api.common.v1 import common_pb2
    from ragserve.api.retrieval.v1 import retrieval_pb2 as rpb
    from ragserve.api.retrieval.v1 import retrieval_pb2_grpc

    rng = np.random.default_rng(11)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        await stub.CreateCollection(
            rpb.CreateCollectionRequest(
                tenant=TENANT,
                name=COLLECTION,
                config=rpb.CollectionConfig(dimension=DIMENSION, distance=rpb.DISTANCE_COSINE),
            ),
            timeout=60,
        )
        batch = []
        for index in range(points):
            payload = struct_pb2.Struct()
            payload.update(
                {
                    "document_id": f"doc-{index // 4}",
                    "chunk_index": index % 4,
                    "text": f"chunk {index} " + "words of a chunk of text " * 20,
                    "start": 0,
                    "end": 500,
                    "heading_path": ["Section", f"Part {index % 3}"],
                    "media_type": "text/markdown",
                    "metadata": {"source": "bench"},
                }
            )
            batch.append(
                rpb.Point(
                    id=common_pb2.PointId(num=index + 1),
                    vector=rng.standard_normal(DIMENSION).astype(np.float32).tolist(),
                    payload=payload,
                )
            )

        async def requests() -> AsyncIterator[rpb.UpsertRequest]:
            yield rpb.UpsertRequest(tenant=TENANT, collection=COLLECTION, points=batch)

        await stub.Upsert(requests(), timeout=60)


# ---------------------------------------------------------------------------- measuring

Call = Callable[[], Awaitable[object]]


async def _timed(call: Call, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _timed_sync(call: Callable[[], object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _p99(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


Rounds = dict[str, list[tuple[float, float]]]


def _record(rounds: Rounds, name: str, samples: Sequence[float]) -> None:
    rounds.setdefault(name, []).append((statistics.median(samples), _p99(samples)))


# Per tree measured (this checkout: "", a baseline: BASELINE): its servers' addresses by role
# ("runtime", "router", "retrieval"); the bare server ("bare") is this checkout's only.
Targets = dict[str, dict[str, str]]
BASELINE = " [baseline]"


async def _measure_unary(targets: Targets, calls: int, rounds: int) -> Rounds:
    from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
    from ragserve.api.retrieval.v1 import retrieval_pb2 as rpb
    from ragserve.api.retrieval.v1 import retrieval_pb2_grpc
    from ragserve.runtime.channels import create_channel

    embed_request = embedding_pb2.EmbedRequest(tenant=TENANT, model=MODEL, texts=[QUERY_TEXT])
    list_models = embedding_pb2.ListModelsRequest()
    vector = _query_vector().tolist()

    def search_request(limit: int, payload: bool) -> rpb.SearchRequest:
        query = rpb.SearchQuery(vector=vector, limit=limit)
        # Unset, the selector returns the whole payload: "no payload" must say so.
        query.with_payload.CopyFrom(
            rpb.PayloadSelector(include=HIT_PAYLOAD_KEYS)
            if payload
            else rpb.PayloadSelector(exclude_all=True)
        )
        return rpb.SearchRequest(tenant=TENANT, collection=COLLECTION, query=query)

    search_10 = search_request(10, True)
    search_1 = search_request(1, False)
    channels: list[grpc.aio.Channel] = []

    def paths(addresses: dict[str, str], tag: str, stacked: bool) -> dict[str, Call]:
        suffix = (" (create_channel)" if stacked else "") + tag

        def channel(role: str) -> grpc.aio.Channel:
            made = (
                create_channel(addresses[role])
                if stacked
                else grpc.aio.insecure_channel(addresses[role])
            )
            channels.append(made)
            return made

        found: dict[str, Call] = {}
        if "bare" in addresses:
            bare = channel("bare").unary_unary(
                UNARY, request_serializer=_identity, response_deserializer=_identity
            )
            found[f"bare no-op{suffix}"] = lambda: bare(b"", timeout=TIMEOUT_S)
        runtime = channel("runtime").unary_unary(
            UNARY, request_serializer=_identity, response_deserializer=_identity
        )
        router = embedding_pb2_grpc.EmbeddingRouterServiceStub(channel("router"))
        retrieval = retrieval_pb2_grpc.RetrievalServiceStub(channel("retrieval"))
        found[f"runtime stack no-op{suffix}"] = lambda: runtime(b"", timeout=TIMEOUT_S)
        found[f"router ListModels{suffix}"] = lambda: router.ListModels(
            list_models, timeout=TIMEOUT_S
        )
        found[f"router Embed, cache hit{suffix}"] = lambda: router.Embed(
            embed_request, timeout=TIMEOUT_S
        )
        found[f"retrieval Search, 1 hit, no payload{suffix}"] = lambda: retrieval.Search(
            search_1, timeout=TIMEOUT_S
        )
        found[f"retrieval Search, 10 hits with payload{suffix}"] = lambda: retrieval.Search(
            search_10, timeout=TIMEOUT_S
        )
        return found

    try:
        all_paths: dict[str, Call] = {}
        for stacked in (False, True):
            for tag, addresses in targets.items():
                all_paths.update(paths(addresses, tag, stacked))
        for call in all_paths.values():  # warm-up: connections, the router's Redis read
            await _timed(call, max(10, calls // 10))
        results: Rounds = {}
        for _ in range(rounds):
            # One call of each path in turn: a burst of a neighbour's load lands on every
            # path alike, not on one path's block of calls.
            samples: dict[str, list[float]] = {name: [] for name in all_paths}
            for _ in range(calls):
                for name, call in all_paths.items():
                    started = time.perf_counter()
                    await call()
                    samples[name].append((time.perf_counter() - started) * 1000)
            for name, taken in samples.items():
                _record(results, name, taken)
        return results
    finally:
        for made in channels:
            await made.close(None)


def _drain(stream: Any) -> list[bytes]:
    return list(stream(b"", timeout=TIMEOUT_S))


def _measure_streams(targets: Targets, calls: int, rounds: int) -> Rounds:
    channels: list[grpc.Channel] = []
    paths: dict[str, Callable[[], object]] = {}
    try:
        for tag, addresses in targets.items():
            for role in ("bare", "runtime"):
                if role not in addresses:
                    continue
                channel = grpc.insecure_channel(addresses[role])
                channels.append(channel)
                unary = channel.unary_unary(
                    UNARY, request_serializer=_identity, response_deserializer=_identity
                )
                stream = channel.unary_stream(
                    STREAM, request_serializer=_identity, response_deserializer=_identity
                )
                label = "bare" if role == "bare" else "runtime stack"
                paths[f"{label} no-op (sync client){tag}"] = functools.partial(
                    unary, b"", timeout=TIMEOUT_S
                )
                paths[f"{label} server stream of {STREAM_MESSAGES} (sync client){tag}"] = (
                    functools.partial(_drain, stream)
                )
        for call in paths.values():
            _timed_sync(call, max(10, calls // 10))
        results: Rounds = {}
        for _ in range(rounds):
            samples: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(calls):
                for name, sync_call in paths.items():
                    started = time.perf_counter()
                    sync_call()
                    samples[name].append((time.perf_counter() - started) * 1000)
            for name, taken in samples.items():
                _record(results, name, taken)
        return results
    finally:
        for channel in channels:
            channel.close()


def _measure(targets: Targets, calls: int, rounds: int) -> Rounds:
    results = asyncio.run(_measure_unary(targets, calls, rounds))
    results.update(_measure_streams(targets, calls, rounds))
    return results


def _measure_in_child(targets: Targets, calls: int, rounds: int) -> Rounds:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        results: Rounds = pool.apply(_measure, (targets, calls, rounds))
    return results


# ---------------------------------------------------------------------------- report


def _table(results: Rounds, calls: int, rounds: int) -> str:
    def p50(name: str) -> float:
        return statistics.median(r[0] for r in results[name])

    lines = [
        "# Internal hops: what a call costs over a no-op on a bare server",
        "",
        f"`benchmarks/runtime/bench_hops.py`; {calls} calls per path in each of {rounds} "
        f"alternating rounds, one at a time; {os.cpu_count()} CPUs. Median over rounds of "
        "each round's p50 / p99.",
        "",
        "| path | p50 ms | p99 ms | p50 over bare no-op, ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, values in results.items():
        if "(sync client)" in name:
            baseline = p50("bare no-op (sync client)")
        elif "(create_channel)" in name:
            baseline = p50("bare no-op (create_channel)")
        else:
            baseline = p50("bare no-op")
        p99 = statistics.median(r[1] for r in values)
        lines.append(f"| {name} | {p50(name):.3f} | {p99:.3f} | {p50(name) - baseline:+.3f} |")
    return "\n".join(lines) + "\n"


def _start_tree(
    tmp: Path, redis_url: str, env: dict[str, str], tag: str
) -> tuple[dict[str, str], list[Any], list[Any]]:
    """One tree's servers: its addresses by role, its services, its bench servers."""
    from ragserve.testkit.processes import ServiceProcess

    config = tmp / f"providers{tag.strip()}.json"
    _router_config(config, redis_url)
    services = []
    try:
        services.append(
            ServiceProcess(
                "embedding_router",
                env={**env, "RAGSERVE_EMBEDDING_ROUTER_PROVIDERS_FILE": str(config)},
            ).start(timeout_s=120)
        )
        services.append(
            ServiceProcess(
                "retrieval",
                env={**env, "RAGSERVE_RETRIEVAL_DATA_DIR": str(tmp / f"retrieval{tag.strip()}")},
            ).start(timeout_s=120)
        )
        runtime = _start_server(stack=True, env=env)
    except BaseException:
        for service in services:
            service.stop()
        raise
    addresses = {
        "runtime": runtime[1],
        "router": services[0].address,
        "retrieval": services[1].address,
    }
    return addresses, services, [runtime[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000, help="per path and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--points", type=int, default=200, help="in the small collection")
    parser.add_argument("--smoke", action="store_true", help="a few calls: check the script")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="also measure the services of this tree (an unpacked `git archive <commit>`), "
        "in the same alternating rounds, rows tagged [baseline]",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--serve", choices=("bare", "runtime"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:  # a bench server, started by _start_server
        _serve_main(args.serve == "runtime")
        return
    if args.smoke:
        args.calls, args.rounds, args.points = 20, 1, 20

    from ragserve.testkit.redis_server import RedisServer

    trees = {"": _baseline_env(None)}
    if args.baseline is not None:
        trees[BASELINE] = _baseline_env(args.baseline.resolve())
    bare, bare_address = _start_server(stack=False, env=trees[""])
    processes: list[Any] = [bare]
    services: list[Any] = []
    targets: Targets = {}
    try:
        with tempfile.TemporaryDirectory() as tmp, RedisServer() as redis_server:
            _seed_cache(redis_server.url)
            for tag, env in trees.items():
                addresses, started, servers = _start_tree(Path(tmp), redis_server.url, env, tag)
                services += started
                processes += servers
                asyncio.run(_fill_collection(addresses["retrieval"], args.points))
                targets[tag] = addresses
            targets[""]["bare"] = bare_address
            results = _measure_in_child(targets, args.calls, args.rounds)
            for service in services:
                service.stop()
            services = []
    finally:
        for service in services:
            service.stop()
        for process in processes:
            process.kill()
            process.wait()
    table = _table(results, args.calls, args.rounds)
    print(table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)


if __name__ == "__main__":
    main()
