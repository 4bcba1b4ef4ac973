"""Orchestrator query benchmark: Query latency at N chunks with the query embedding cached,
each hop's share, and answer quality against raw dense search on the same model.

Data: the project's corpus (services/orchestrator/tests/data/corpus, 30 documents in four
media types) ingested through the orchestrator's Ingest — real embeddings of real chunks —
plus **real passages to reach N chunks**: paragraphs of the Python standard library's and
installed packages' docstrings (benchmarks/real_texts.py), embedded with the same model in
this process (cached under .cache/bench/), upserted straight into retrieval with the
orchestrator's chunk payload layout. Real prose clusters by topic as a document collection
does, so HNSW (built by retrieval once the collection passes its index threshold, and
calibrated there on its own vectors) is measured on the shape it is built for. The run
waits for that build (retrieval's log record), then measures the index's **recall@10**
against exact search with passages held out of the collection as queries (and the corpus
queries), and retrieval's own Search latency at the calibrated ef and exactly.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from benchmarks.bulk_collection import (
    HELD_OUT,
    add_passages,
    index_state,
    real_passages,
    wait_for_index,
)
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


def _index_figures(address: str, vectors: list[list[float]]) -> dict[str, float]:
    """recall@10 of retrieval's default search (HNSW at the calibrated ef once indexed)
    against exact search, and both latencies as retrieval's client sees them, the two
    kinds alternating query by query."""
    channel = grpc.insecure_channel(address)
    retrieval = retrieval_pb2_grpc.RetrievalServiceStub(channel)

    def search(vector: list[float], exact: bool) -> tuple[list[bytes], float]:
        request = rpb.SearchRequest(
            tenant=TENANT,
            collection="bulk",
            query=rpb.SearchQuery(
                vector=vector,
                limit=10,
                with_payload=rpb.PayloadSelector(exclude_all=True),
                params=rpb.SearchParams(exact=exact),
            ),
        )
        started = time.perf_counter()
        response = retrieval.Search(request, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        return [hit.id.SerializeToString() for hit in response.hits], elapsed

    for vector in vectors[:20]:  # warm-up
        search(vector, False)
        search(vector, True)
    recalls, default_ms, exact_ms = [], [], []
    for vector in vectors:
        found, elapsed = search(vector, False)
        default_ms.append(elapsed)
        truth, elapsed = search(vector, True)
        exact_ms.append(elapsed)
        recalls.append(len(set(found) & set(truth)) / max(1, len(truth)))
    channel.close()
    return {
        "recall@10": statistics.fmean(recalls),
        "default_p50": percentile(default_ms, 50),
        "default_p99": percentile(default_ms, 99),
        "exact_p50": percentile(exact_ms, 50),
        "exact_p99": percentile(exact_ms, 99),
        "queries": len(vectors),
    }


def _measure(
    address: str,
    retrieval_address: str,
    texts: list[str],
    vectors: list[list[float]],
    rounds: int,
    out: Any,
) -> None:
    """Child process: one sync client, one query at a time."""
    index = _index_figures(retrieval_address, vectors)
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
    out.put((rows, index))


async def quality(
    stub: Any, router: Any, retrieval: Any, cases: list[dict[str, str]]
) -> tuple[dict[str, float], list[list[float]]]:
    """Recall of Query and of raw dense search on the corpus, and the query vectors."""
    found = {"query@1": 0, "query@3": 0, "dense@1": 0, "dense@3": 0}
    vectors: list[list[float]] = []
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
        vectors.append(list(embedded.embeddings[0].vector))
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
    return {key: value / len(cases) for key, value in found.items()}, vectors


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


@dataclass
class Prepared:
    chunks: int
    state: str
    build: str
    scores: dict[str, float]
    query_vectors: list[list[float]]


def table(rows: list[dict[str, float]], index: dict[str, float], prepared: Prepared) -> str:
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
    scores = prepared.scores
    lines = [
        f"Query at {prepared.chunks} chunks (the corpus's chunks plus real passages: Python "
        f"docstring paragraphs, real embeddings), index {prepared.state}, {len(rows)} queries, "
        "one client, query embedding cached, hits only, top_k 5; "
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
        f"Retrieval alone on the same collection, {int(index['queries'])} queries (passages held "
        "out of the collection, and the corpus queries), top 10, the two kinds alternating:",
        "",
        "| search | p50 ms | p99 ms | recall@10 vs exact |",
        "| --- | --- | --- | --- |",
        f"| default (HNSW at the calibrated ef when indexed) | {index['default_p50']:.2f} "
        f"| {index['default_p99']:.2f} | {index['recall@10']:.3f} |",
        f"| exact | {index['exact_p50']:.2f} | {index['exact_p99']:.2f} | 1.000 |",
        "",
        f"Index build: {prepared.build or 'none (below the index threshold)'}",
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
    suite: Any,
    chunks: int,
    passages: list[str],
    vectors: np.ndarray,
    index_threshold: int,
    index_wait_s: float,
) -> Prepared:
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
        extra = max(0, min(chunks - real_chunks, len(passages) - HELD_OUT))
        started = time.perf_counter()
        await add_passages(retrieval, TENANT, "bulk", passages[:extra], vectors[:extra])
        print(f"{extra} passages upserted in {time.perf_counter() - started:.1f}s", flush=True)
        build = await asyncio.to_thread(
            wait_for_index,
            suite.retrieval,
            "bulk",
            real_chunks + extra,
            index_threshold,
            index_wait_s,
        )
        state = await index_state(retrieval, TENANT, "bulk")
        scores, corpus_vectors = await quality(stub, router, retrieval, queries())
        held_out = [list(map(float, v)) for v in vectors[len(vectors) - HELD_OUT :]]
        return Prepared(real_chunks + extra, state, build, scores, held_out + corpus_vectors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="points in the collection")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the corpus queries")
    parser.add_argument(
        "--index-threshold",
        type=int,
        default=100_000,
        help="retrieval's index threshold (points at which it builds HNSW); set explicitly so "
        "the bench knows whether a build comes",
    )
    parser.add_argument("--index-wait", type=float, default=1800, help="seconds, at most")
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--no-write", action="store_true", help="print, do not write the doc")
    args = parser.parse_args()

    passages, vectors = real_passages(args.chunks)
    # The embedded store's index builder may still be removing its segments when the suite
    # has stopped: a left-over temporary file must not cost the measured table.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as directory:
        suite = start_suite(
            Path(directory) / "retrieval",
            retrieval_env={"RAGSERVE_RETRIEVAL_INDEX_THRESHOLD": str(args.index_threshold)},
        )
        try:
            prepared = asyncio.run(
                prepare(
                    suite, args.chunks, passages, vectors, args.index_threshold, args.index_wait
                )
            )
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            texts = [case["query"] for case in queries()]
            client = context.Process(
                target=_measure,
                args=(
                    suite.orchestrator.address,
                    suite.retrieval.address,
                    texts,
                    prepared.query_vectors,
                    args.rounds,
                    results,
                ),
            )
            client.start()
            rows, index = results.get(timeout=3600)
            client.join()
        finally:
            suite.stop()
    report = table(rows, index, prepared)
    print(report)
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("# Orchestrator query benchmark\n\n" + report)


if __name__ == "__main__":
    main()
