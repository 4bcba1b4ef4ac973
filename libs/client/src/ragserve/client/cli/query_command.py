"""``ragserve query``: the answer as it streams, then its sources, timings and trace id."""

from __future__ import annotations

from ragserve.client.cli.output import EXIT_OK, Output
from ragserve.client.sync import Client
from ragserve.client.types import AnswerDelta, Hit, QueryResult


def source_label(hit: Hit) -> str:
    """Where a hit comes from: document, chunk, and page or heading path."""
    where = f"{hit.document_id} · chunk {hit.chunk_index}"
    if hit.source.page:
        where += f" · page {hit.source.page}"
    if hit.source.heading_path:
        where += " · " + " › ".join(hit.source.heading_path)
    return where


def source_record(hit: Hit) -> dict[str, object]:
    return {
        "collection": hit.collection,
        "document": hit.document_id,
        "chunk": hit.chunk_index,
        "page": hit.source.page or None,
        "heading_path": list(hit.source.heading_path),
        "score": round(hit.score, 4),
        "text": hit.text,
    }


def timings_line(result: QueryResult) -> str:
    if result.done is None:
        return ""
    parts = []
    for timing in result.done.timings:
        name = f"{timing.stage} {timing.collection}" if timing.collection else timing.stage
        parts.append(f"{name} {timing.duration_ms:.1f} ms")
    parts.append(f"total {result.done.total_ms:.1f} ms")
    return " · ".join(parts)


def run_query(
    client: Client,
    output: Output,
    text: str,
    collections: list[str],
    *,
    top_k: int,
    answer: bool,
) -> int:
    result = QueryResult()
    streaming = False
    for event in client.query(
        text, collections, top_k=top_k, answer="extractive" if answer else None
    ):
        result.add(event)
        if isinstance(event, AnswerDelta) and not output.json:
            output.out.print(event.text, end="", markup=False)
            streaming = True
    if output.json:
        output.emit(query_record(text, result))
        return EXIT_OK
    if streaming:
        output.out.print()
    elif answer:
        output.out.print("(no answer: nothing relevant found)", style="dim")
    sources = result.cited_hits() if result.answer else result.hits
    if sources:
        output.out.print("\nSources:", style="bold")
        for number, hit in enumerate(sources, start=1):
            output.out.print(f"  [{number}] {source_label(hit)}  ({hit.score:.3f})", markup=False)
    for warning in result.warnings:
        output.err.print(f"warning: {warning.code}: {warning.message}", style="yellow")
    timings = timings_line(result)
    if timings:
        output.out.print(f"\nTimings: {timings}", style="dim")
    output.out.print(f"Trace: {result.trace_id}", style="dim")
    return EXIT_OK


def query_record(text: str, result: QueryResult) -> dict[str, object]:
    done = result.done
    return {
        "query": text,
        "answer": result.answer,
        "sources": [source_record(hit) for hit in result.cited_hits()] if result.answer else [],
        "hits": [source_record(hit) for hit in result.hits],
        "citations": [
            {"hit": c.hit_index, "answer_start": c.answer_start, "answer_end": c.answer_end}
            for c in result.citations
        ],
        "warnings": [
            {"code": w.code, "subject": w.subject, "message": w.message} for w in result.warnings
        ],
        "timings_ms": [
            {"stage": t.stage, "collection": t.collection, "ms": round(t.duration_ms, 3)}
            for t in (done.timings if done else ())
        ],
        "total_ms": round(done.total_ms, 3) if done else None,
        "trace_id": result.trace_id,
    }
