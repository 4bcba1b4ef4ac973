"""``ragserve ingest``: files and folders into a collection, with progress and a summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from ragserve.client.cli.output import EXIT_ERROR, EXIT_OK, EXIT_USAGE, Output
from ragserve.client.documents import DocumentSource, collect
from ragserve.client.errors import NotFound
from ragserve.client.sync import Client
from ragserve.client.types import IngestAck, IngestStatus, IngestSummary


def run_ingest(
    client: Client,
    output: Output,
    paths: list[Path],
    collection: str,
    *,
    create: bool,
    max_tokens: int,
    resend: bool = False,
) -> int:
    try:
        selection = collect(paths)
    except (OSError, ValueError) as error:
        output.error(str(error))
        return EXIT_USAGE
    documents = selection.documents
    if not documents:
        output.error(f"no text, Markdown, HTML or PDF files under {', '.join(map(str, paths))}")
        return EXIT_USAGE
    if create:
        try:
            client.get_collection(collection)
        except NotFound:
            client.create_collection(collection)
            if not output.json:
                output.err.print(f"created collection {collection}")
    total_bytes = sum(d.size for d in documents)
    started = time.perf_counter()
    # Resuming an interrupted run: what the collection already holds, unchanged since, is
    # not read or sent again (--resend sends everything; the server still skips the same
    # content, but only after receiving it).
    already = [] if resend else already_stored(client, collection, documents)
    held = {ack.document_id for ack in already}
    to_send = [d for d in documents if d.id not in held]

    def ingest(report: Callable[[IngestAck], None]) -> IngestSummary:
        for ack in already:
            report(ack)
        summary = client.ingest_documents(to_send, collection, max_tokens=max_tokens, on_ack=report)
        summary.acks[:0] = already
        return summary

    if output.json:
        for skipped in selection.skipped:
            output.emit({"event": "skipped", "path": str(skipped), "reason": "unsupported type"})
        summary = ingest(lambda ack: output.emit({"event": "document", **_ack_record(ack)}))
    elif output.interactive:
        summary = _with_progress_bar(output, ingest, len(documents), total_bytes)
    else:
        # Not a terminal: one line per document on stderr, the summary on stdout.
        done = [0, 0]

        def line(ack: IngestAck) -> None:
            done[0] += 1
            done[1] += ack.size
            output.err.print(
                f"[{done[0]}/{len(documents)} documents, {done[1]}/{total_bytes} bytes] "
                f"{ack.status.value} {ack.document_id}"
                + (
                    f" ({ack.chunks} chunks)"
                    if ack.status is not IngestStatus.FAILED
                    else f": {ack.error}"
                )
                + ("" if ack.sent else ", not re-sent")
            )

        summary = ingest(line)
    elapsed = time.perf_counter() - started
    _print_summary(output, summary, selection.skipped, total_bytes, elapsed)
    return EXIT_ERROR if summary.failed else EXIT_OK


def _with_progress_bar(
    output: Output,
    ingest: Callable[[Callable[[IngestAck], None]], IngestSummary],
    documents: int,
    total_bytes: int,
) -> IngestSummary:
    columns = (
        TextColumn("[bold]ingest[/] {task.fields[done]}/{task.fields[documents]} documents"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=output.err, transient=False) as progress:
        task = progress.add_task("ingest", total=total_bytes, done=0, documents=documents)
        done = [0]

        def advance(ack: IngestAck) -> None:
            done[0] += 1
            progress.update(task, advance=ack.size, done=done[0])
            if ack.status is IngestStatus.FAILED:
                progress.console.print(f"[red]failed[/] {ack.document_id}: {ack.error}")

        return ingest(advance)


def already_stored(
    client: Client, collection: str, documents: list[DocumentSource]
) -> list[IngestAck]:
    """Documents the collection holds under the same id and media type, stored after the
    file last changed (its modification time), as UNCHANGED outcomes that were not sent."""
    try:
        stored = {info.id: info for info in client.list_documents(collection)}
    except NotFound:
        return []
    acks = []
    for document in documents:
        info = stored.get(document.id)
        if info is None or info.ingested_at is None or info.media_type != document.media_type:
            continue
        try:
            modified = document.path.stat().st_mtime
        except OSError:
            continue  # the send will report it
        if modified <= info.ingested_at.timestamp():
            acks.append(
                IngestAck(
                    0, document.id, IngestStatus.UNCHANGED, info.chunks, document.size, sent=False
                )
            )
    return acks


def _ack_record(ack: IngestAck) -> dict[str, object]:
    record: dict[str, object] = {
        "document": ack.document_id,
        "status": ack.status.value,
        "chunks": ack.chunks,
        "bytes": ack.size,
        "sent": ack.sent,
    }
    if ack.status is IngestStatus.FAILED:
        record.update(error_code=ack.error_code, error=ack.error, retryable=ack.retryable)
    return record


def _print_summary(
    output: Output,
    summary: IngestSummary,
    skipped: list[Path],
    total_bytes: int,
    elapsed_s: float,
) -> None:
    failed = summary.failed
    chunks = sum(ack.chunks for ack in summary.acks)
    not_resent = sum(1 for ack in summary.acks if not ack.sent)
    if output.json:
        output.emit(
            {
                "event": "summary",
                "collection": summary.collection,
                "documents": len(summary.acks),
                "stored": summary.stored,
                "unchanged": summary.unchanged,
                "failed": len(failed),
                "chunks": chunks,
                "bytes": total_bytes,
                "seconds": round(elapsed_s, 3),
                "streams": summary.streams,
                "not_resent": not_resent,
                "skipped": len(skipped),
                "failures": [
                    {"document": a.document_id, "error_code": a.error_code, "error": a.error}
                    for a in failed
                ],
            }
        )
        return
    output.out.print(
        f"{len(summary.acks)} documents into {summary.collection}: "
        f"[green]{summary.stored} stored[/], {summary.unchanged} unchanged, "
        f"{'[red]' if failed else ''}{len(failed)} failed{'[/]' if failed else ''} "
        f"({chunks} chunks, {total_bytes / 1e6:.2f} MB in {elapsed_s:.1f} s)"
    )
    for ack in failed:
        output.out.print(f"  failed {ack.document_id}: {ack.error_code}: {ack.error}")
    if skipped:
        output.out.print(f"  skipped {len(skipped)} files of other types (e.g. {skipped[0]})")
    if not_resent:
        output.out.print(
            f"  {not_resent} unchanged since the collection stored them: not sent again "
            "(--resend sends them)"
        )
    if summary.streams > 1:
        output.out.print(f"  resumed {summary.streams - 1} time(s) after a lost stream")
