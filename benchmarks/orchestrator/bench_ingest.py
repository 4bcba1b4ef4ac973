"""Orchestrator ingest benchmark: documents/s and chunks/s into an empty collection, against
the raw embedding throughput of the same model in-process, in the same run.

Baseline: the chunks the orchestrator would make of the same documents (its own parser and
chunker, the model's tokenizer), embedded in this process with the inference service's
``TextEmbeddingModel`` in batches of 32 sorted by length — the model's ceiling here. Then
Redis, inference, the embedding router, retrieval (Qdrant Edge) and the orchestrator start
as processes, and one client streams every document through ``Ingest`` into a new
collection (cache cold: every chunk is new), from a child process so that the service log
readers of this process do not compete with it. Target: chunks/s ≥ 0.8 times the baseline
(everything but embedding overlapped). The orchestrator's peak RSS (VmHWM) is reported:
bounded memory means it does not grow with the number of documents.

Run: ``uv run python -m benchmarks.orchestrator.bench_ingest [--documents 500]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import grpc

from benchmarks.texts import make_texts
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "bench" / "orchestrator.md"
MODEL = "all-minilm-l6-v2"
TENANT = "bench"
COLLECTION = "ingest"


def make_documents(count: int, paragraphs: int) -> list[str]:
    """Markdown documents of ``paragraphs`` paragraphs under two headings, all distinct."""
    sentences = make_texts(count * paragraphs * 3, seed=11)
    documents = []
    for index in range(count):
        own = sentences[index * paragraphs * 3 : (index + 1) * paragraphs * 3]
        body = [" ".join(own[p * 3 : p * 3 + 3]) for p in range(paragraphs)]
        half = paragraphs // 2
        documents.append(
            f"# Document {index}\n\n"
            + "\n\n".join(body[:half])
            + f"\n\n## Part two of {index}\n\n"
            + "\n\n".join(body[half:])
            + "\n"
        )
    return documents


def chunk_texts(documents: list[str], repository: Path) -> list[str]:
    from tokenizers import Tokenizer

    from ragserve.orchestrator.documents.chunking import chunk_document
    from ragserve.orchestrator.documents.parsing import parse_document

    tokenizer = Tokenizer.from_file(str(repository / MODEL / "tokenizer.json"))
    texts = []
    for document in documents:
        extracted = parse_document(document.encode(), "text/markdown")
        chunks = chunk_document(
            extracted, tokenizer, max_tokens=200, overlap_tokens=40, token_limit=256
        )
        texts.extend(chunk.text for chunk in chunks)
    return texts


def in_process_rate(texts: list[str], repository: Path, batch_size: int = 32) -> float:
    """Embeddings/s of the model in this process over ``texts`` (sorted batches)."""
    from ragserve.inference.config import load_model_config
    from ragserve.inference.served_model import ModelFiles
    from ragserve.inference.text_embedding import TextEmbeddingModel

    config = load_model_config(repository / MODEL)
    config = replace(config, intra_op_threads=max(config.intra_op_threads, 2))
    model = TextEmbeddingModel.load(config, ModelFiles(repository / MODEL, "1"))
    model.warm_up()
    ordered = sorted(texts, key=len)
    # Two passes, the second timed: the first meets each batch shape once.
    for _ in range(2):
        started = time.perf_counter()
        for start in range(0, len(ordered), batch_size):
            model.embed(model.tokenize(ordered[start : start + batch_size]))
        elapsed = time.perf_counter() - started
    model.close()
    return len(texts) / elapsed


async def _ingest(address: str, documents: list[str]) -> tuple[float, int, int, int]:
    """(seconds, stored, failed, chunks) of one Ingest stream of every document."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        await stub.CreateCollection(
            pb.CreateCollectionRequest(tenant=TENANT, name=COLLECTION, model=MODEL), timeout=60
        )

        async def requests():  # type: ignore[no-untyped-def]
            yield pb.IngestRequest(config=pb.IngestConfig(tenant=TENANT, collection=COLLECTION))
            for sequence, text in enumerate(documents, start=1):
                yield pb.IngestRequest(
                    item=pb.IngestItem(
                        sequence=sequence,
                        document=pb.Document(
                            id=f"doc-{sequence}", text=text, media_type="text/markdown"
                        ),
                    )
                )

        stored = failed = chunks = 0
        started = time.perf_counter()
        async for ack in stub.Ingest(requests(), timeout=3600):
            if ack.status == pb.INGEST_STATUS_FAILED:
                failed += 1
            else:
                stored += 1
                chunks += ack.chunks
        return time.perf_counter() - started, stored, failed, chunks


def _client(address: str, documents: list[str], results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    results.put(asyncio.run(_ingest(address, documents)))


def _peak_rss_mib(process: ServiceProcess) -> float:
    assert process.process is not None
    status = Path(f"/proc/{process.process.pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--paragraphs", type=int, default=6, help="per document")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the doc")
    args = parser.parse_args()

    from ragserve.model_setup import default_repository, ensure_models

    repository = default_repository()
    ensure_models(repository, report=lambda _line: None)
    documents = make_documents(args.documents, args.paragraphs)
    size = sum(len(d.encode()) for d in documents) / len(documents)
    texts = chunk_texts(documents, repository)
    raw_rate = in_process_rate(texts, repository)

    # A killed retrieval's worker may still hold files in the scratch directory: a left-over
    # must not cost the measured table.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as scratch:
        started: list[ServiceProcess | RedisServer] = []
        try:
            redis = RedisServer().start()
            started.append(redis)
            inference = ServiceProcess("inference", {"RAGSERVE_INFERENCE_MODELS": MODEL})
            started.append(inference.start(timeout_s=120))
            router = ServiceProcess(
                "embedding_router",
                {
                    "RAGSERVE_INFERENCE_ADDR": inference.address,
                    "RAGSERVE_EMBEDDING_ROUTER_REDIS_URL": redis.url,
                },
            )
            started.append(router.start(timeout_s=60))
            retrieval = ServiceProcess(
                "retrieval", {"RAGSERVE_RETRIEVAL_DATA_DIR": str(Path(scratch) / "retrieval")}
            )
            started.append(retrieval.start(timeout_s=60))
            orchestrator = ServiceProcess(
                "orchestrator",
                {
                    "RAGSERVE_EMBEDDING_ROUTER_ADDR": router.address,
                    "RAGSERVE_RETRIEVAL_ADDR": retrieval.address,
                },
            )
            started.append(orchestrator.start(timeout_s=60))
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            client = context.Process(
                target=_client, args=(orchestrator.address, documents, results)
            )
            client.start()
            seconds, stored, failed, chunks = results.get()
            client.join()
            peak_rss = _peak_rss_mib(orchestrator)
        finally:
            for part in reversed(started):
                part.kill()

    docs_rate = stored / seconds
    chunk_rate = chunks / seconds
    per_doc = chunks / max(stored, 1)
    lines = [
        "# Orchestrator ingest benchmark",
        "",
        "`make bench` → `benchmarks/orchestrator/bench_ingest.py`. One Ingest stream of "
        f"{args.documents} generated Markdown documents ({size / 1024:.1f} KiB each on average, "
        f"{args.paragraphs} paragraphs under two headings, {per_doc:.1f} chunks each at the default "
        "200-token chunks) into an empty collection: Redis, inference, the embedding router, "
        "retrieval (Qdrant Edge) and the orchestrator as processes on this machine "
        f"({platform.machine()}, {multiprocessing.cpu_count()} CPUs), the client in its own process; "
        "every chunk is new to the router's cache. Baseline: the same chunks embedded in-process "
        "(inference's TextEmbeddingModel, batches of 32 sorted by length), in the same run.",
        "",
        "| setup | documents/s | chunks/s | × in-process embedding |",
        "| --- | ---: | ---: | ---: |",
        f"| in-process embedding only (no parse, no store) | {raw_rate / per_doc:.1f} | "
        f"{raw_rate:.1f} | 1.00 |",
        f"| orchestrator Ingest, end to end (durable acks) | {docs_rate:.1f} | {chunk_rate:.1f} | "
        f"{chunk_rate / raw_rate:.2f} |",
        "",
        f"- Documents acked: {stored} stored, {failed} failed, in {seconds:.1f} s.",
        f"- Orchestrator peak RSS (VmHWM): {peak_rss:.0f} MiB over the run.",
        "- Target: chunks/s ≥ 0.8× the in-process rate (every stage but embedding overlapped).",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    if not args.no_write:
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        DOCS.write_text(table)


if __name__ == "__main__":
    main()
