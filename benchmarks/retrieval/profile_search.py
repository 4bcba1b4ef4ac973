"""Where one Search's time goes inside the retrieval process, stage by stage, without gRPC.

Runs the service's own objects in this process (servicer, core, the embedded store and its
real worker process) over a small collection like ``benchmarks/runtime/bench_hops.py``'s,
and times, per call, what a Search passes through: parsing the request bytes, converting
the query, the core's checks, the store's round trip to the worker, the answer's
conversion and serialization. Then the whole servicer method, and the store's round trip
next to the engine called directly. Wall time is the median per call; CPU is this
process's (and the worker's) CPU time over the loop divided by the calls, which a shared
machine disturbs far less. A profiling aid: read differences within one run.

Run: ``uv run python -m benchmarks.retrieval.profile_search [--calls 1000 --rounds 3]
[--baseline TREE] [--cprofile FILE]``; ``--baseline`` measures an unpacked ``git archive <rev>``
too, in a process of its own, its rounds in turn with this checkout's (a before/after from one run).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import statistics
import subprocess
import sys
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
ROOT = Path(__file__).resolve().parents[2]


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
    walls = []
    cpu, worker = time.process_time(), _cpu_s(worker_pid)
    for _ in range(calls):
        started = time.perf_counter()
        await stage()
        walls.append(time.perf_counter() - started)
    cpu, worker = time.process_time() - cpu, _cpu_s(worker_pid) - worker
    return statistics.median(walls) * 1e6, cpu / calls * 1e6, worker / calls * 1e6


async def _stages(core: RetrievalCore, store: EdgeStore) -> dict[str, Stage]:
    servicer = RetrievalServicer(core)
    physical = physical_name(TENANT, COLLECTION)
    stages: dict[str, Stage] = {}

    async def ping() -> object:
        return await store._call("ping")

    stages["store ping (round trip, no work)"] = ping
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

        async def answer(hits: Any = hits) -> object:
            response = pb.SearchResponse()
            convert.scored_into(response.hits, hits[0])
            return response.SerializeToString()

        async def whole(data: bytes = data) -> object:
            request = pb.SearchRequest.FromString(data)
            response = await servicer.Search(request, None)  # type: ignore[arg-type]
            return response.SerializeToString()

        stages |= {
            f"{tag}: parse request bytes": parse,
            f"{tag}: convert.query_in": query_in,
            f"{tag}: core checks (name, spec, validation)": checks,
            f"{tag}: store.search (worker round trip)": store_search,
            f"{tag}: answer: scored_into + serialize": answer,
            f"{tag}: whole: parse + servicer.Search + serialize": whole,
        }
    return stages


Rows = dict[str, list[tuple[float, float, float]]]


async def run(
    calls: int,
    points: int,
    rounds: int,
    profile_to: Path | None,
    next_round: Callable[[], bool],
    round_done: Callable[[], None] = lambda: None,
) -> Rows:
    """Each round (started when ``next_round()`` says so, ``round_done()`` after it)
    measures every stage once."""
    rows: Rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = EdgeStore(Path(tmp), WorkerSettings(index_threshold=0))
        core = RetrievalCore(store, "edge")
        await core.start()
        try:
            await core.create_collection(TENANT, COLLECTION, CollectionSpec(dimension=DIMENSION))
            await core.upsert(TENANT, COLLECTION, _points(points))
            pid = store.worker_pid
            assert pid is not None
            stages = await _stages(core, store)
            for stage in stages.values():  # warm-up
                await _measure(stage, max(10, calls // 10), pid)
            for _ in range(rounds):
                if not next_round():
                    break
                for name, stage in stages.items():
                    rows.setdefault(name, []).append(await _measure(stage, calls, pid))
                round_done()
            if profile_to is not None:
                whole = stages["1 hit: whole: parse + servicer.Search + serialize"]
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(calls):
                    await whole()
                profiler.disable()
                profiler.dump_stats(profile_to)
        finally:
            await core.close()
    return rows


def _baseline(tree: Path, args: argparse.Namespace) -> subprocess.Popen[str]:
    """This script on ``tree``'s libs and services (an unpacked ``git archive``), run by
    rounds: it measures a round per line on its stdin and prints its rows as JSON at the end."""
    sources = sorted(str(p) for p in tree.glob("*/*/src") if p.parts[-3] in ("libs", "services"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*sources, str(ROOT)])}
    command = [sys.executable, "-m", "benchmarks.retrieval.profile_search", "--follow"]
    command += ["--calls", str(args.calls), "--points", str(args.points)]
    command += ["--rounds", str(args.rounds)]
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _table(results: dict[str, Rows], calls: int, rounds: int) -> str:
    lines = [
        f"Median over {rounds} rounds of {calls} calls per stage (µs per call; loaded machine: "
        "compare within one run).",
        "",
        "| stage | tree | wall p50 | CPU | worker CPU |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name in next(iter(results.values())):
        for tree, rows in results.items():
            wall, cpu, worker = (statistics.median(r[i] for r in rows[name]) for i in range(3))
            lines.append(f"| {name} | {tree} | {wall:.1f} | {cpu:.1f} | {worker:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000, help="per stage and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--cprofile", type=Path, default=None, help="profile of the whole call")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="also measure this tree (an unpacked `git archive <commit>`), round by round "
        "in turn with this checkout",
    )
    parser.add_argument("--follow", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.follow:  # a baseline, run by rounds from its parent
        rows = asyncio.run(
            run(
                args.calls,
                args.points,
                args.rounds,
                None,
                lambda: bool(sys.stdin.readline()),
                lambda: print("done", flush=True),
            )
        )
        print(json.dumps(rows), flush=True)
        return
    baseline = _baseline(args.baseline.resolve(), args) if args.baseline is not None else None

    def next_round() -> bool:
        # The baseline measures its round first, then this checkout: neighbours' load
        # drifts over both alike.
        if baseline is not None:
            assert baseline.stdin is not None
            baseline.stdin.write("go\n")
            baseline.stdin.flush()
            assert baseline.stdout is not None
            if baseline.stdout.readline().strip() != "done":
                raise RuntimeError("the baseline stopped")
        return True

    results = {
        "this": asyncio.run(run(args.calls, args.points, args.rounds, args.cprofile, next_round))
    }
    if baseline is not None:
        assert baseline.stdin is not None and baseline.stdout is not None
        baseline.stdin.close()
        results["baseline"] = json.loads(baseline.stdout.readline())
        baseline.wait()
    print(_table(results, args.calls, args.rounds))


if __name__ == "__main__":
    main()
