"""Benchmark of document processing alone: parse + chunk, per media type, one thread.

Data: the orchestrator's test corpus (services/orchestrator/tests/data/corpus: 30
documents of 1.4-2.4 KB of text, 7-8 per media type), processed again and again for
``--seconds`` per media type after a warm-up. Chunking uses the default model's own
tokenizer (models/all-minilm-l6-v2/tokenizer.json, from ``make setup``) with
``--max-tokens`` / ``--overlap-tokens`` and the model's limit of 256.

Reports documents/s, input KB/s and chunks/s for parsing alone and for parse + chunk, so
the ingest benchmark's documents/s can be set against what document processing costs
(ingest overlaps it with embedding). Writes the markdown table to
docs/bench/documents.md (``--out``) and prints it.
Usage: ``uv run python -m benchmarks.orchestrator.bench_documents [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from tokenizers import Tokenizer

from ragserve.orchestrator.documents import (
    chunk_document,
    media_type_for_filename,
    parse_document,
    prepare_tokenizer,
)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "services/orchestrator/tests/data/corpus"
TOKENIZER = ROOT / "models/all-minilm-l6-v2/tokenizer.json"
TOKEN_LIMIT = 256


def corpus() -> dict[str, list[bytes]]:
    by_type: dict[str, list[bytes]] = {}
    for path in sorted(CORPUS.iterdir()):
        media_type = media_type_for_filename(path.name)
        if media_type and path.name != "README.md":
            by_type.setdefault(media_type, []).append(path.read_bytes())
    return by_type


def run(
    documents: list[bytes], media_type: str, seconds: float, chunk: bool, args: argparse.Namespace,
    tokenizer: Tokenizer,
) -> tuple[int, int, int, float]:  # fmt: skip
    """(documents, input bytes, chunks, elapsed seconds) over whole passes of the set."""
    count = size = chunks = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        for content in documents:
            doc = parse_document(content, media_type)
            if chunk:
                chunks += len(
                    chunk_document(
                        doc,
                        tokenizer,
                        max_tokens=args.max_tokens,
                        overlap_tokens=args.overlap_tokens,
                        token_limit=TOKEN_LIMIT,
                    )
                )
            count += 1
            size += len(content)
    return count, size, chunks, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="per media type and mode")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--overlap-tokens", type=int, default=32)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/bench/documents.md")
    args = parser.parse_args()

    tokenizer = prepare_tokenizer(Tokenizer.from_file(str(TOKENIZER)))
    rows = []
    for media_type, documents in corpus().items():
        run(documents, media_type, 0.2, True, args, tokenizer)  # warm-up: imports, caches
        parsed = run(documents, media_type, args.seconds, False, args, tokenizer)
        full = run(documents, media_type, args.seconds, True, args, tokenizer)
        parse_rate = parsed[0] / parsed[3]
        docs, size, chunks, elapsed = full
        rows.append(
            f"| {media_type} | {len(documents)} | {size / docs / 1024:.1f} | {parse_rate:.0f} "
            f"| {docs / elapsed:.0f} | {size / elapsed / 1024:.0f} | {chunks / elapsed:.0f} "
            f"| {chunks / docs:.1f} |"
        )
    table = "\n".join(
        [
            "# Document processing: parse + chunk (one thread)",
            "",
            f"{platform.processor() or platform.machine()}, Python {platform.python_version()}; "
            f"chunks of at most {args.max_tokens} tokens, overlap {args.overlap_tokens}, "
            f"all-MiniLM-L6-v2 tokenizer; {args.seconds:g} s per cell.",
            "",
            "| media type | documents | KB per document | parse only, docs/s | parse + chunk, docs/s "
            "| KB/s | chunks/s | chunks per document |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
