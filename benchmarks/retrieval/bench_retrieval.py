"""Benchmark of the retrieval core on the embedded backend (Qdrant Edge in its worker).

Data: random unit vectors (normal, normalised; seeded), not real embeddings — random
vectors have no cluster structure, so they are the hard case for HNSW recall and the
same case as real ones for exact search. Payload: ``doc`` (keyword, indexed, 100 values)
and ``rank``.

Measures, through ``RetrievalCore`` (validation, worker pipe and engine; no gRPC):
- upsert throughput (batches of 1024, each acknowledged durable);
- search latency p50/p95, unfiltered and filtered (``doc`` = one value, 1% of points),
  one query at a time, with exact search (the default below the index threshold);
- recall@10 against numpy brute force;
- RSS of the worker process;
- at ``--index-points`` (smaller, since the build takes minutes at 100k on 2 cores): search
  latency *while* the HNSW index builds in its own process, the build time, and recall@10
  and latency once the index is live.

Writes the markdown table to docs/bench/retrieval.md (``--out``) and prints it.
Usage: ``uv run python benchmarks/retrieval/bench_retrieval.py [--points 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ragserve.retrieval.core import RetrievalCore
from ragserve.retrieval.edge_store import EdgeStore
from ragserve.retrieval.edge_worker import WorkerSettings
from ragserve.retrieval.model import (
    CollectionSpec,
    FieldCondition,
    Filter,
    HnswSettings,
    IndexState,
    MatchValue,
    PayloadFieldType,
    Point,
    SearchQuery,
)

TENANT = "bench"
BATCH = 1024
DOCS = 100
K = 10


def unit_vectors(count: int, dimension: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def exact_top(data: np.ndarray, doc_of: np.ndarray, query: np.ndarray, doc: int | None) -> set[int]:
    scores = data @ query
    if doc is not None:
        scores = np.where(doc_of == doc, scores, -np.inf)
    return set(np.argpartition(-scores, K)[:K].tolist())


async def load(core: RetrievalCore, name: str, data: np.ndarray, spec: CollectionSpec) -> float:
    await core.create_collection(TENANT, name, spec)
    started = time.perf_counter()
    for start in range(0, len(data), BATCH):
        points = [
            Point(i, data[i], {"doc": f"doc-{i % DOCS}", "rank": i})
            for i in range(start, min(start + BATCH, len(data)))
        ]
        await core.upsert(TENANT, name, points)
    return len(data) / (time.perf_counter() - started)


async def measure(
    core: RetrievalCore,
    name: str,
    data: np.ndarray,
    queries: np.ndarray,
    filtered: bool,
) -> tuple[list[float], float]:
    """Latencies (ms) of one query at a time, and recall@10 against brute force.

    The brute-force truth is computed before the searches, so that numpy's threads do
    not compete with the worker for the two cores while latencies are measured."""
    doc_of = np.arange(len(data)) % DOCS
    docs = [index % DOCS if filtered else None for index in range(len(queries))]
    truths = [
        exact_top(data, doc_of, vector, doc) for vector, doc in zip(queries, docs, strict=True)
    ]
    latencies: list[float] = []
    recalls: list[float] = []
    for vector, doc, truth in zip(queries, docs, truths, strict=True):
        query_filter = (
            Filter(must=(FieldCondition("doc", MatchValue(f"doc-{doc}")),)) if filtered else None
        )
        query = SearchQuery(vector=tuple(vector.tolist()), limit=K, filter=query_filter)
        started = time.perf_counter()
        hits = await core.search(TENANT, name, query)
        latencies.append((time.perf_counter() - started) * 1000)
        recalls.append(len(truth & {int(hit.id) for hit in hits}) / K)
    return latencies, statistics.fmean(recalls)


def row(label: str, latencies: list[float], recall: float) -> str:
    return (
        f"| {label} | {percentile(latencies, 50):.2f} | {percentile(latencies, 95):.2f} "
        f"| {recall:.3f} |"
    )


async def run(args: argparse.Namespace) -> str:
    dimension = args.dim
    data = unit_vectors(args.points, dimension, seed=1)
    queries = unit_vectors(args.queries, dimension, seed=2)
    spec = CollectionSpec(dimension=dimension, payload_indexes={"doc": PayloadFieldType.KEYWORD})
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as directory:
        # Exact search: no index is ever built (threshold 0), as below the default threshold.
        store = EdgeStore(Path(directory) / "exact", WorkerSettings(index_threshold=0))
        core = RetrievalCore(store, "edge")
        await core.start()
        try:
            throughput = await load(core, "exact", data, spec)
            rss = rss_mib(store.worker_pid)
            plain, plain_recall = await measure(core, "exact", data, queries, filtered=False)
            filt, filt_recall = await measure(core, "exact", data, queries, filtered=True)
        finally:
            await core.close()
        lines += [
            f"### {args.points:,} points x {dimension} dimensions, exact search",
            "",
            f"Upsert: **{throughput:,.0f} points/s** (batches of {BATCH}, each durable). "
            f"Worker RSS after loading: **{rss:,.0f} MiB**.",
            "",
            "| search (one query at a time, top-10) | p50 ms | p95 ms | recall@10 |",
            "| --- | --- | --- | --- |",
            row("unfiltered", plain, plain_recall),
            row("filtered (`doc` = one of 100 values, 1%)", filt, filt_recall),
            "",
        ]

        if args.index_points:
            count = args.index_points
            store = EdgeStore(
                Path(directory) / "hnsw",
                WorkerSettings(index_threshold=0, hnsw_ef=args.hnsw_ef),
            )
            core = RetrievalCore(store, "edge")
            await core.start()
            try:
                hnsw_spec = CollectionSpec(
                    dimension=dimension,
                    hnsw=HnswSettings(
                        m=args.m, ef_construct=args.ef_construct, full_scan_threshold=count
                    ),
                    payload_indexes={"doc": PayloadFieldType.KEYWORD},
                )
                subset = data[:count]
                await load(core, "hnsw", subset, hnsw_spec)  # reaching the threshold starts it
                info = await core.describe_collection(TENANT, "hnsw")
                assert info.index_state == IndexState.INDEXING, info
                started = time.perf_counter()
                during, during_recall = await measure(core, "hnsw", subset, queries, False)
                served_for = time.perf_counter() - started
                await store.wait_for_index(f"{TENANT}.hnsw")
                build_s = time.perf_counter() - started
                after, after_recall = await measure(core, "hnsw", subset, queries, False)
                after_filtered, after_filtered_recall = await measure(
                    core, "hnsw", subset, queries, True
                )
                rss_after = rss_mib(store.worker_pid)
            finally:
                await core.close()
            lines += [
                f"### {count:,} points x {dimension}: HNSW built in the background "
                f"(m {args.m}, ef_construct {args.ef_construct}, search ef {args.hnsw_ef})",
                "",
                f"Build: **{build_s:.0f} s** in the builder process (1 indexing thread); "
                f"{len(during)} searches were answered during it (over {served_for:.1f} s), "
                f"exactly, from the live shard. Worker RSS after the swap: {rss_after:,.0f} MiB.",
                "",
                "| search (top-10) | p50 ms | p95 ms | recall@10 |",
                "| --- | --- | --- | --- |",
                row("during the build (exact)", during, during_recall),
                row("after the build (HNSW)", after, after_recall),
                row("after the build, filtered (1%)", after_filtered, after_filtered_recall),
                "",
            ]
    header = [
        "# Retrieval benchmark (embedded Qdrant Edge)",
        "",
        f"`benchmarks/retrieval/bench_retrieval.py --points {args.points} "
        f"--index-points {args.index_points} --m {args.m} --ef-construct {args.ef_construct} "
        f"--hnsw-ef {args.hnsw_ef}` on {platform.machine()}, "
        f"{_cpus()} CPUs, Python {platform.python_version()}. Random unit vectors (not real "
        "embeddings); latencies through RetrievalCore and the worker pipe, no gRPC; "
        f"{args.queries} queries per row. Targets: p95 ≤ 20 ms at 100k, recall@10 ≥ 0.95.",
        "",
    ]
    return "\n".join(header + lines)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--index-points", type=int, default=10_000, help="HNSW section size (0 skips it)"
    )
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construct", type=int, default=100)
    parser.add_argument("--hnsw-ef", type=int, default=512)
    parser.add_argument("--out", type=Path, default=Path("docs/bench/retrieval.md"))
    args = parser.parse_args()
    table = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n", encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
