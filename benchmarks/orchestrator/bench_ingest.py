"""Orchestrator ingest benchmark: documents/s and chunks/s into an empty collection, against
the raw embedding throughput of the same model in-process, in the same run.

Documents: Markdown made of real prose — each a heading and ``--passages`` consecutive
paragraphs of Python docstrings (benchmarks/real_texts.py), so every document is distinct
and chunks like a real one. Baseline: the chunks the orchestrator would make of the same
documents (its own parser and chunker, the model's tokenizer), embedded in this process
with the inference service's ``TextEmbeddingModel`` in batches of 32 sorted by length —
the model's ceiling here; timed over a random sample of them after a warm-up pass. Then
Redis, inference, the embedding router, retrieval (Qdrant Edge) and the orchestrator start
as processes, and one client streams every document through ``Ingest`` into a new
collection (cache cold: every chunk is new), from a child process so that the service log
readers of this process do not compete with it. Target: chunks/s ≥ 0.8 times the baseline
(everything but embedding overlapped). The orchestrator's RSS is sampled through the run:
bounded memory means the second half of the run peaks no higher than the first.

Run: ``uv run python -m benchmarks.orchestrator.bench_ingest [--documents 500]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import random
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc

from benchmarks import real_texts
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc
from ragserve.testkit.suite import start_suite

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "bench" / "orchestrator.md"
MODEL = "all-minilm-l6-v2"
TENANT = "bench"
COLLECTION = "ingest"


def make_documents(count: int, per_document: int) -> list[str]:
    """``count`` distinct Markdown documents of ``per_document`` real paragraphs each."""
    texts = real_texts.passages(count * per_document)
    return [
        f"# Notes {index}\n\n"
        + "\n\n".join(texts[index * per_document : (index + 1) * per_document])
        + "\n"
        for index in range(count)
    ]


def chunk_texts(documents: list[str], repository: Path) -> list[str]:
    from tokenizers import Tokenizer

    from ragserve.orchestrator.documents.chunking import chunk_document
    from ragserve.orchestrator.documents.parsing import parse_document

    tokenizer = Tokenizer.from_file(str(repository / MODEL / "tokenizer.json"))
    texts: list[str] = []
    for document in documents:
        extracted = parse_document(document.encode(), "text/markdown")
        chunks = chunk_document(
            extracted, tokenizer, max_tokens=200, overlap_tokens=40, token_limit=256
        )
        texts.extend(chunk.text for chunk in chunks)
    return texts


def in_process_rate(texts: list[str], repository: Path, sample: int, batch_size: int = 32) -> float:
    """Embeddings/s of the model in this process over a random sample of ``texts`` (sorted
    batches), timed after an untimed pass over a smaller sample meets the batch shapes."""
    model = real_texts.load_model(repository)
    model.warm_up()
    rng = random.Random(5)
    timed = sorted(rng.sample(texts, min(sample, len(texts))), key=len)
    warm = timed[:: max(1, len(timed) // 256)]

    def embed_all(ordered: list[str]) -> float:
        started = time.perf_counter()
        for start in range(0, len(ordered), batch_size):
            model.embed(model.tokenize(ordered[start : start + batch_size]))
        return time.perf_counter() - started

    embed_all(warm)
    elapsed = embed_all(timed)
    model.close()
    return len(timed) / elapsed


async def _ingest(address: str, documents: list[str]) -> tuple[float, int, int, int]:
    """(seconds, stored, failed, chunks) of one Ingest stream of every document."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        await stub.CreateCollection(
            pb.CreateCollectionRequest(tenant=TENANT, name=COLLECTION, model=MODEL), timeout=60
        )

        async def requests() -> AsyncIterator[pb.IngestRequest]:
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


class RssSampler:
    """The process's resident set, sampled every ``interval_s`` on a thread of its own
    until stopped (an Event wait, so stopping is immediate)."""

    def __init__(self, pid: int, interval_s: float = 0.5) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.samples.append(self.rss_mib())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def halves(self) -> tuple[float, float]:
        """Peak RSS (MiB) over the first and the second half of the samples."""
        half = max(1, len(self.samples) // 2)
        first, second = self.samples[:half], self.samples[half:] or self.samples[-1:]
        return max(first, default=0.0), max(second, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--passages", type=int, default=4, help="paragraphs per document")
    parser.add_argument("--sample", type=int, default=3000, help="chunks the baseline times")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the doc")
    args = parser.parse_args()

    from ragserve.model_setup import default_repository, ensure_models

    repository = default_repository()
    ensure_models(repository, report=lambda _line: None)
    documents = make_documents(args.documents, args.passages)
    size = sum(len(d.encode()) for d in documents) / len(documents)
    texts = chunk_texts(documents, repository)
    raw_rate = in_process_rate(texts, repository, args.sample)

    # A killed retrieval's worker may still hold files in the scratch directory: a left-over
    # must not cost the measured table.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as scratch:
        suite = start_suite(Path(scratch) / "retrieval")
        try:
            assert suite.orchestrator.process is not None
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            client = context.Process(
                target=_client, args=(suite.orchestrator.address, documents, results)
            )
            with RssSampler(suite.orchestrator.process.pid) as sampler:
                idle_rss = sampler.rss_mib()
                client.start()
                seconds, stored, failed, chunks = results.get()
                client.join()
        finally:
            suite.stop()
    first_half, second_half = sampler.halves()

    docs_rate = stored / seconds
    chunk_rate = chunks / seconds
    per_doc = chunks / max(stored, 1)
    lines = [
        "# Orchestrator ingest benchmark",
        "",
        "`make bench` → `benchmarks/orchestrator/bench_ingest.py`. One Ingest stream of "
        f"{args.documents} Markdown documents of real prose ({size / 1024:.2f} KiB each on "
        f"average: a heading and {args.passages} docstring paragraphs, {per_doc:.2f} chunks each "
        "at the default 200-token chunks) into an empty collection: Redis, inference, the "
        "embedding router, retrieval (Qdrant Edge) and the orchestrator as processes on this "
        f"machine ({platform.machine()}, {multiprocessing.cpu_count()} CPUs), the client in its "
        "own process; every chunk is new to the router's cache. Baseline: "
        f"{min(args.sample, len(texts))} of the same chunks embedded in-process (inference's "
        "TextEmbeddingModel, batches of 32 sorted by length), in the same run.",
        "",
        "| setup | documents/s | chunks/s | × in-process embedding |",
        "| --- | ---: | ---: | ---: |",
        f"| in-process embedding only (no parse, no store) | {raw_rate / per_doc:.1f} | "
        f"{raw_rate:.1f} | 1.00 |",
        f"| orchestrator Ingest, end to end (durable acks) | {docs_rate:.1f} | {chunk_rate:.1f} | "
        f"{chunk_rate / raw_rate:.2f} |",
        "",
        f"- Documents acked: {stored} stored, {failed} failed, {chunks} chunks, in {seconds:.1f} s.",
        f"- Orchestrator RSS: {idle_rss:.0f} MiB before the stream; peak {first_half:.0f} MiB "
        f"over the first half of the run, {second_half:.0f} MiB over the second "
        f"({len(sampler.samples)} samples, every 0.5 s).",
        "- Target: chunks/s ≥ 0.8× the in-process rate (every stage but embedding overlapped).",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    if not args.no_write:
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        DOCS.write_text(table)


if __name__ == "__main__":
    main()
