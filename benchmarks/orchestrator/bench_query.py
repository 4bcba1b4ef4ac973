"""Orchestrator query benchmark: Query latency at N chunks with the query embedding cached,
each hop's share, and answer quality against raw dense search on the same model.

Data: the project's corpus (services/orchestrator/tests/data/corpus, 30 documents in four
media types) ingested through the orchestrator's Ingest — real embeddings of real chunks —
plus **noise to reach N chunks**: each noise point is a real corpus chunk vector with
Gaussian noise added (sigma 0.05 per dimension, then normalised: cosine about 0.7 to its
source), so the collection clusters like real embeddings instead of being uniform, and
HNSW (built by retrieval once the collection passes its index threshold) is measured on a
realistic shape. Noise points carry the orchestrator's chunk payload layout.

Latency: every corpus query (one client, one query at a time, hits only, top_k 5) after a
warm-up pass, so the router answers the embedding from its cache. Measured in a child
process (the service log readers of this process must not compete with it): the client's
wall time, and the done event's stage timings: embed (the router hop, a cache hit),
search (the retrieval hop), merge; "orchestrator" is the rest of the orchestrator's own
time (total_ms less the stages) and "transport" the client's time less total_ms.

Quality: recall@1 and recall@3 (the query's document among the top 1 / 3 hits) of the
corpus queries through Query, against raw dense search — the same model's vector from the
router's Embed, searched directly in retrieval — on the corpus alone.

Run: ``uv run python -m benchmarks.orchestrator.bench_query [--chunks 100000]``; writes
docs/bench/orchestrator-query.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from google.protobuf import struct_pb2

from ragserve.api.common.v1 import common_pb2
from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc
from ragserve.api.retrieval.v1 import retrieval_pb2 as rpb
from ragserve.api.retrieval.v1 import retrieval_pb2_grpc
from ragserve.testkit.suite import DEFAULT_MODEL, start_suite

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "bench" / "orchestrator-query.md"
CORPUS = ROOT / "services" / "orchestrator" / "tests" / "data" / "corpus"
MEDIA_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".html": "text/html",
    ".pdf": "application/pdf",
}
TENANT = "bench"
NOISE_SIGMA = 0.05
UPSERT_BATCH = 1024
STAGES = ("STAGE_EMBED", "STAGE_SEARCH", "STAGE_MERGE")


def corpus() -> list[pb.Document]:
    return [
        pb.Document(id=path.name, data=path.read_bytes(), media_type=MEDIA_TYPES[path.suffix])
        for path in sorted(CORPUS.iterdir())
        if path.suffix in MEDIA_TYPES
    ]


def queries() -> list[dict[str, str]]:
    return list(json.loads((CORPUS / "queries.json").read_text()))


async def ingest(stub: Any, collection: str) -> int:
    await stub.CreateCollection(
        pb.CreateCollectionRequest(tenant=TENANT, name=collection, model=DEFAULT_MODEL)
    )

    async def requests() -> Any:
        yield pb.IngestRequest(config=pb.IngestConfig(tenant=TENANT, collection=collection))
        for sequence, document in enumerate(corpus(), start=1):
            yield pb.IngestRequest(item=pb.IngestItem(sequence=sequence, document=document))

    chunks = 0
    async for ack in stub.Ingest(requests(), timeout=900):
        if ack.status != pb.INGEST_STATUS_STORED:
            raise RuntimeError(f"ingest failed: {ack}")
        chunks += ack.chunks
    return chunks


async def chunk_vectors(retrieval: Any, collection: str) -> np.ndarray:
    """Every stored chunk vector of ``collection`` (an exact search that returns them all)."""
    query = rpb.SearchQuery(
        vector=[1.0] + [0.0] * 383,
        limit=1000,
        with_vectors=True,
        with_payload=rpb.PayloadSelector(exclude_all=True),
        params=rpb.SearchParams(exact=True),
    )
    response = await retrieval.Search(
        rpb.SearchRequest(tenant=TENANT, collection=collection, query=query), timeout=60
    )
    return np.array([list(hit.vector) for hit in response.hits], dtype=np.float32)


def noise_point(index: int, vector: np.ndarray) -> rpb.Point:
    payload = struct_pb2.Struct()
    payload.update(
        {
            "document_id": f"noise-{index // 8}",
            "content_hash": "noise",
            "chunk_index": index % 8,
            "chunk_count": 8,
            "text": f"noise chunk {index}",
            "start": 0,
            "end": 0,
            "media_type": "text/plain",
            "metadata": {},
        }
    )
    return rpb.Point(
        id=common_pb2.PointId(uuid=str(uuid.uuid5(uuid.NAMESPACE_OID, f"noise-{index}"))),
        vector=vector.tolist(),
        payload=payload,
    )


async def add_noise(retrieval: Any, collection: str, real: np.ndarray, count: int) -> None:
    rng = np.random.default_rng(7)

    async def batches() -> Any:
        for start in range(0, count, UPSERT_BATCH):
            size = min(UPSERT_BATCH, count - start)
            base = real[(np.arange(start, start + size)) % len(real)]
            noisy = base + rng.normal(0.0, NOISE_SIGMA, base.shape).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            yield rpb.UpsertRequest(
                tenant=TENANT,
                collection=collection,
                points=[noise_point(start + i, v) for i, v in enumerate(noisy)],
            )

    await retrieval.Upsert(batches(), timeout=3600)


async def wait_indexed(retrieval: Any, collection: str, timeout_s: float) -> str:
    """The index state once HNSW is live (or whatever it is when ``timeout_s`` passes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        info = await retrieval.DescribeCollection(
            rpb.DescribeCollectionRequest(tenant=TENANT, name=collection), timeout=60
        )
        state = rpb.IndexState.Name(info.collection.index_state)
        if state != "INDEX_STATE_INDEXING" or time.monotonic() > deadline:
            return state
        await asyncio.sleep(1.0)  # between polls of an index build that takes minutes


def _measure(address: str, texts: list[str], rounds: int, out: Any) -> None:
    """Child process: one sync client, one query at a time."""
    channel = grpc.insecure_channel(address)
    stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
    rows: list[dict[str, float]] = []

    def one(text: str) -> dict[str, float]:
        started = time.perf_counter()
        events = list(
            stub.Query(
                pb.QueryRequest(tenant=TENANT, collections=["bulk"], query=text, top_k=5),
                timeout=60,
            )
        )
        client_ms = (time.perf_counter() - started) * 1000
        done = events[-1].done
        row = {"client": client_ms, "total": done.total_ms}
        for timing in done.timings:
            name = pb.Stage.Name(timing.stage)
            row[name] = row.get(name, 0.0) + timing.duration_ms
        row["orchestrator"] = done.total_ms - sum(row.get(s, 0.0) for s in STAGES)
        row["transport"] = client_ms - done.total_ms
        assert done.embedding_cached, "the warm-up should have cached every query"
        return row

    for text in texts:  # warm-up: embeddings cached, bindings and channels warm
        one(text)
    for _ in range(rounds):
        rows.extend(one(text) for text in texts)
    channel.close()
    out.put(rows)


async def quality(
    stub: Any, router: Any, retrieval: Any, cases: list[dict[str, str]]
) -> dict[str, float]:
    found = {"query@1": 0, "query@3": 0, "dense@1": 0, "dense@3": 0}
    for case in cases:
        events = [
            e
            async for e in stub.Query(
                pb.QueryRequest(
                    tenant=TENANT, collections=["corpus"], query=case["query"], top_k=3
                ),
                timeout=60,
            )
        ]
        hits = next(e for e in events if e.WhichOneof("event") == "hits").hits.hits
        via_query = [h.document_id for h in hits]
        embedded = await router.Embed(
            embedding_pb2.EmbedRequest(tenant=TENANT, model=DEFAULT_MODEL, texts=[case["query"]]),
            timeout=60,
        )
        response = await retrieval.Search(
            rpb.SearchRequest(
                tenant=TENANT,
                collection="corpus",
                query=rpb.SearchQuery(
                    vector=list(embedded.embeddings[0].vector),
                    limit=3,
                    with_payload=rpb.PayloadSelector(include=["document_id"]),
                ),
            ),
            timeout=60,
        )
        dense = [h.payload.fields["document_id"].string_value for h in response.hits]
        for name, ranked in (("query", via_query), ("dense", dense)):
            found[f"{name}@1"] += ranked[:1] == [case["document"]]
            found[f"{name}@3"] += case["document"] in ranked[:3]
    return {key: value / len(cases) for key, value in found.items()}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def table(rows: list[dict[str, float]], chunks: int, state: str, scores: dict[str, float]) -> str:
    columns = [
        ("client (end to end)", "client"),
        ("orchestrator total_ms", "total"),
        ("embed (router, cache hit)", "STAGE_EMBED"),
        ("search (retrieval)", "STAGE_SEARCH"),
        ("merge", "STAGE_MERGE"),
        ("orchestrator's own rest", "orchestrator"),
        ("transport + client", "transport"),
    ]
    client_p50 = statistics.median(r["client"] for r in rows)
    lines = [
        f"Query at {chunks} chunks (the corpus's real chunks plus noise around them), "
        f"index {state}, {len(rows)} queries, one client, query embedding cached; "
        f"{platform.machine()}, {multiprocessing.cpu_count()} CPUs.",
        "",
        "| part | p50 ms | p99 ms | share of client p50 |",
        "| --- | --- | --- | --- |",
    ]
    for label, key in columns:
        values = [r.get(key, 0.0) for r in rows]
        p50 = percentile(values, 50)
        lines.append(
            f"| {label} | {p50:.2f} | {percentile(values, 99):.2f} | {p50 / client_p50:.0%} |"
        )
    lines += [
        "",
        "Answer quality on the corpus queries (30 documents, one query each):",
        "",
        "| path | recall@1 | recall@3 |",
        "| --- | --- | --- |",
        f"| Query (orchestrator) | {scores['query@1']:.2f} | {scores['query@3']:.2f} |",
        f"| raw dense search (router Embed + retrieval Search) | {scores['dense@1']:.2f} "
        f"| {scores['dense@3']:.2f} |",
    ]
    return "\n".join(lines) + "\n"


async def prepare(
    suite: Any, chunks: int, index_wait_s: float
) -> tuple[int, str, dict[str, float]]:
    async with (
        grpc.aio.insecure_channel(suite.orchestrator.address) as orchestrator_channel,
        grpc.aio.insecure_channel(suite.retrieval.address) as retrieval_channel,
        grpc.aio.insecure_channel(suite.router.address) as router_channel,
    ):
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(orchestrator_channel)
        retrieval = retrieval_pb2_grpc.RetrievalServiceStub(retrieval_channel)
        router = embedding_pb2_grpc.EmbeddingRouterServiceStub(router_channel)
        real_chunks = await ingest(stub, "corpus")
        await ingest(stub, "bulk")
        real = await chunk_vectors(retrieval, "corpus")
        noise = max(0, chunks - real_chunks)
        started = time.perf_counter()
        await add_noise(retrieval, "bulk", real, noise)
        print(f"{noise} noise points in {time.perf_counter() - started:.1f}s", flush=True)
        state = await wait_indexed(retrieval, "bulk", index_wait_s)
        scores = await quality(stub, router, retrieval, queries())
        return real_chunks + noise, state, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="points in the collection")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the corpus queries")
    parser.add_argument("--index-wait", type=float, default=1800, help="seconds, at most")
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--no-write", action="store_true", help="print, do not write the doc")
    args = parser.parse_args()
    # The embedded store's index builder may still be removing its segments when the suite
    # has stopped: a left-over temporary file must not cost the measured table.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as directory:
        suite = start_suite(Path(directory) / "retrieval")
        try:
            chunks, state, scores = asyncio.run(prepare(suite, args.chunks, args.index_wait))
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            texts = [case["query"] for case in queries()]
            client = context.Process(
                target=_measure, args=(suite.orchestrator.address, texts, args.rounds, results)
            )
            client.start()
            rows = results.get(timeout=3600)
            client.join()
        finally:
            suite.stop()
    report = table(rows, chunks, state, scores)
    print(report)
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("# Orchestrator query benchmark\n\n" + report)


if __name__ == "__main__":
    main()
