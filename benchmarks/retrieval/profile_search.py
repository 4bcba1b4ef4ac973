"""Where one Search's time goes inside the retrieval process, stage by stage, without gRPC.

Runs the service's own objects in this process (servicer, core, the embedded store and its
real worker process) over a small collection like ``benchmarks/runtime/bench_hops.py``'s,
and times, per call, what a Search passes through: parsing the request bytes, converting
the query, the core's checks, the store's round trip to the worker, the answer's
conversion and serialization. Then the whole servicer method, and the store's round trip
next to the engine called directly. Wall time is the median per call; CPU is this
process's (and the worker's) CPU time over the loop divided by the calls, which a shared
machine disturbs far less. A profiling aid: read differences within one run.

Run: ``uv run python -m benchmarks.retrieval.profile_search [--calls 2000] [--cprofile FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

from ragserve.api.retrieval.v1 import retrieval_pb2 as pb
from ragserve.retrieval import convert, validation
from ragserve.retrieval.core import RetrievalCore
from ragserve.retrieval.edge_store import EdgeStore
from ragserve.retrieval.edge_worker import WorkerSettings
from ragserve.retrieval.model import CollectionSpec, Point
from ragserve.retrieval.names import physical_name
from ragserve.retrieval.servicer import RetrievalServicer

DIMENSION = 384
TENANT = "bench"
COLLECTION = "hops"
PAYLOAD_KEYS = ["document_id", "chunk_index", "text", "heading_path"]
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _points(count: int) -> list[Point]:
    rng = np.random.default_rng(11)
    return [
        Point(
            index + 1,
            tuple(rng.standard_normal(DIMENSION).astype(np.float32).tolist()),
            {
                "document_id": f"doc-{index // 4}",
                "chunk_index": index % 4,
                "text": f"chunk {index} " + "words of a chunk of text " * 20,
                "heading_path": ["Section", f"Part {index % 3}"],
            },
        )
        for index in range(count)
    ]


def _request(limit: int, payload: bool) -> bytes:
    vector = np.random.default_rng(7).standard_normal(DIMENSION).astype(np.float32)
    query = pb.SearchQuery(vector=(vector / np.linalg.norm(vector)).tolist(), limit=limit)
    if payload:
        query.with_payload.CopyFrom(pb.PayloadSelector(include=PAYLOAD_KEYS))
    return pb.SearchRequest(tenant=TENANT, collection=COLLECTION, query=query).SerializeToString()


Stage = Callable[[], Awaitable[object]]


async def _measure(stage: Stage, calls: int, worker_pid: int) -> tuple[float, float, float]:
    """(median wall µs, this process's CPU µs, the worker's CPU µs) per call."""
    for _ in range(max(10, calls // 10)):
        await stage()
    walls = []
    cpu, worker = time.process_time(), _cpu_s(worker_pid)
    for _ in range(calls):
        started = time.perf_counter()
        await stage()
        walls.append(time.perf_counter() - started)
    cpu, worker = time.process_time() - cpu, _cpu_s(worker_pid) - worker
    return statistics.median(walls) * 1e6, cpu / calls * 1e6, worker / calls * 1e6


async def run(calls: int, points: int, profile_to: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = EdgeStore(Path(tmp), WorkerSettings(index_threshold=0))
        core = RetrievalCore(store, "edge")
        await core.start()
        try:
            await core.create_collection(TENANT, COLLECTION, CollectionSpec(dimension=DIMENSION))
            await core.upsert(TENANT, COLLECTION, _points(points))
            servicer = RetrievalServicer(core)
            pid = store.worker_pid
            assert pid is not None
            physical = physical_name(TENANT, COLLECTION)
            rows: list[tuple[str, tuple[float, float, float]]] = []
            for limit, payload in ((1, False), (10, True)):
                data = _request(limit, payload)
                request = pb.SearchRequest.FromString(data)
                query = convert.query_in("query", request.query)
                hits = await store.search(physical, [query])
                tag = f"{limit} hit{'s' if limit > 1 else ''}{', payload' if payload else ''}"

                async def parse(data: bytes = data) -> object:
                    return pb.SearchRequest.FromString(data)

                async def query_in(request: Any = request) -> object:
                    return convert.query_in("query", request.query)

                async def checks(query: Any = query) -> object:
                    spec = await core._spec(physical_name(TENANT, COLLECTION))
                    validation.search_query("query", query, spec.dimension, COLLECTION)
                    return spec

                async def store_search(query: Any = query) -> object:
                    return await store.search(physical, [query])

                async def ping() -> object:
                    return await store._call("ping")

                async def answer(hits: Any = hits) -> object:
                    response = pb.SearchResponse()
                    convert.scored_into(response.hits, hits[0])
                    return response.SerializeToString()

                async def servicer_search(data: bytes = data) -> object:
                    request = pb.SearchRequest.FromString(data)
                    response = await servicer.Search(request, None)  # type: ignore[arg-type]
                    return response.SerializeToString()

                stages = {
                    "parse request bytes": parse,
                    "convert.query_in": query_in,
                    "core checks (name, spec, validation)": checks,
                    "store.search (worker round trip)": store_search,
                    "store ping (round trip, no work)": ping,
                    "answer: scored_into + serialize": answer,
                    "whole: parse + servicer.Search + serialize": servicer_search,
                }
                for name, stage in stages.items():
                    rows.append((f"{tag}: {name}", await _measure(stage, calls, pid)))
                if profile_to is not None and limit == 1:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    for _ in range(calls):
                        await servicer_search()
                    profiler.disable()
                    profiler.dump_stats(profile_to)
        finally:
            await core.close()
    print(f"| stage ({calls} calls) | wall p50 µs | CPU µs/call | worker CPU µs/call |")
    print("| --- | ---: | ---: | ---: |")
    for name, (wall, cpu, worker) in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {worker:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--cprofile", type=Path, default=None, help="profile of the whole call")
    args = parser.parse_args()
    asyncio.run(run(args.calls, args.points, args.cprofile))


if __name__ == "__main__":
    main()
