"""Ingest resumes a lost stream after the last ``acked_through`` and re-sends nothing settled."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
from clients import Driver
from scripted_gateway import Gateway, rich_status

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.client import IngestStatus, NotFound, RetryPolicy, Unavailable
from ragserve.client.documents import MAX_DOCUMENT_BYTES, DocumentSource, collect
from ragserve.client.ingest import IngestTracker

FAST = RetryPolicy(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=0.02)


def sources(count: int) -> list[DocumentSource]:
    return [
        DocumentSource(f"d{i}.txt", Path(f"/nowhere/d{i}.txt"), "text/plain", 10)
        for i in range(1, count + 1)
    ]


def sequences(tracker: IngestTracker) -> list[int]:
    return [p.sequence for p in tracker.next_stream()]


def test_resume_after_the_contiguous_acks_without_resending_settled_ones() -> None:
    tracker = IngestTracker(sources(6))
    assert sequences(tracker) == [1, 2, 3, 4, 5, 6]
    # Acks out of order: 1, 2, then 4 (3 still in flight); the stream is then lost.
    tracker.record(1, IngestStatus.STORED, 2, acked_through=1)
    tracker.record(2, IngestStatus.UNCHANGED, 2, acked_through=2)
    tracker.record(4, IngestStatus.STORED, 1, acked_through=2)
    assert tracker.acked_through == 2
    # The proto's rule: re-send above acked_through; 4 got a final ack, so it stays settled.
    assert sequences(tracker) == [3, 5, 6]
    for sequence in (3, 5, 6):
        tracker.record(sequence, IngestStatus.STORED, 1, acked_through=sequence)
    assert tracker.done()
    assert [a.sequence for a in tracker.results()] == [1, 2, 3, 4, 5, 6]


def test_a_retryable_failure_is_resent_then_given_up() -> None:
    tracker = IngestTracker(sources(2), max_attempts=2)
    assert sequences(tracker) == [1, 2]
    assert tracker.record(
        1, IngestStatus.FAILED, 0, acked_through=0, error_code="unavailable",
        error="router down", retryable=True, retry_delay_s=0.3,
    ) is None  # fmt: skip
    tracker.record(2, IngestStatus.STORED, 1, acked_through=0)
    assert tracker.acked_through == 0  # a retryable failure holds the resume point
    assert tracker.retry_delay_s() == pytest.approx(0.3)
    assert sequences(tracker) == [1]
    final = tracker.record(
        1, IngestStatus.FAILED, 0, acked_through=0, error_code="unavailable",
        error="router down", retryable=True,
    )  # fmt: skip
    assert final is not None and final.status is IngestStatus.FAILED
    assert tracker.done()


def test_a_non_retryable_failure_is_final() -> None:
    tracker = IngestTracker(sources(1))
    tracker.next_stream()
    ack = tracker.record(
        1, IngestStatus.FAILED, 0, acked_through=1, error_code="unparsable", error="no text"
    )
    assert ack is not None and ack.error == "no text"
    assert tracker.done()


def test_documents_over_the_limit_fail_before_sending() -> None:
    big = DocumentSource("big.txt", Path("/x"), "text/plain", MAX_DOCUMENT_BYTES + 1)
    tracker = IngestTracker([big, *sources(1)])
    local = tracker.take_local()
    assert [(a.document_id, a.error_code) for a in local] == [("big.txt", "invalid_argument")]
    assert tracker.acked_through == 1  # nothing to wait for below the next one
    assert sequences(tracker) == [2]


def test_a_document_never_acked_fails_after_its_attempts() -> None:
    tracker = IngestTracker(sources(1), max_attempts=2)
    assert sequences(tracker) == [1]
    assert sequences(tracker) == [1]
    assert sequences(tracker) == []
    (failed,) = tracker.take_local()
    assert "no final acknowledgement after 2 attempts" in failed.error
    assert tracker.done()


def write_corpus(folder: Path, count: int) -> None:
    folder.mkdir()
    for i in range(1, count + 1):
        (folder / f"doc{i:02}.txt").write_text(f"document {i}")


def ack(
    document: pb.Document, through: int, status: int = pb.INGEST_STATUS_STORED
) -> pb.IngestResponse:
    return pb.IngestResponse(
        sequence=document.sequence, document_id=document.id, status=status, chunks=1,
        acked_through=through,
    )  # fmt: skip


def test_a_lost_stream_resumes_after_the_last_ack(
    gateway: Gateway, kind: str, tmp_path: Path
) -> None:
    write_corpus(tmp_path / "corpus", 6)
    streams = gateway.script.ingest_streams

    def behave(index: int, document: pb.Document) -> pb.IngestResponse | tuple:  # type: ignore[type-arg]
        if len(streams) == 1 and index == 4:
            return rich_status(grpc.StatusCode.UNAVAILABLE, "orchestrator restarted")
        status = pb.INGEST_STATUS_UNCHANGED if document.sequence <= 2 else pb.INGEST_STATUS_STORED
        return ack(document, document.sequence, status)

    gateway.script.ingest = behave
    seen = []
    with Driver(kind, gateway.address, "k", retry=FAST) as client:
        summary = client.ingest([tmp_path / "corpus"], "docs", on_ack=seen.append, timeout=30)
    assert streams[0] == [1, 2, 3, 4]
    assert streams[1] == [4, 5, 6]  # resumed after acked_through = 3, same sequences
    assert summary.streams == 2
    assert (summary.unchanged, summary.stored, summary.failed) == (2, 4, [])
    assert [a.document_id for a in seen] == [f"doc{i:02}.txt" for i in range(1, 7)]
    assert summary.acks == seen


def test_an_ingest_that_cannot_resume_raises(gateway: Gateway, kind: str, tmp_path: Path) -> None:
    # One document: no second write races the server's end of the stream (grpc.aio may
    # report that race as INTERNAL, which is resumed like UNAVAILABLE but raised as itself).
    write_corpus(tmp_path / "corpus", 1)
    gateway.script.ingest = lambda _i, _d: rich_status(grpc.StatusCode.UNAVAILABLE, "down")
    seen = []
    policy = RetryPolicy(max_attempts=2, initial_backoff_s=0.01)
    with (
        Driver(kind, gateway.address, "k", retry=policy) as client,
        pytest.raises(Unavailable),
    ):
        client.ingest([tmp_path / "corpus"], "docs", on_ack=seen.append, timeout=30)
    assert len(gateway.script.ingest_streams) == 2
    assert seen == []


def test_a_retryable_document_failure_is_resent_after_its_delay(
    gateway: Gateway, kind: str, tmp_path: Path
) -> None:
    write_corpus(tmp_path / "corpus", 2)
    streams = gateway.script.ingest_streams

    def behave(index: int, document: pb.Document) -> pb.IngestResponse:
        if len(streams) == 1 and document.sequence == 1:
            failed = ack(document, 0, pb.INGEST_STATUS_FAILED)
            failed.error.code = pb.INGEST_ERROR_CODE_UNAVAILABLE
            failed.error.retryable = True
            failed.error.retry_delay.FromMilliseconds(300)
            return failed
        # Document 1 is not settled on the first stream: the resume point stays below it.
        return ack(document, document.sequence if len(streams) > 1 else 0)

    gateway.script.ingest = behave
    started = time.monotonic()
    with Driver(kind, gateway.address, "k", retry=FAST) as client:
        summary = client.ingest([tmp_path / "corpus"], "docs", timeout=30)
    assert time.monotonic() - started >= 0.3
    assert streams == [[1, 2], [1]]
    assert summary.stored == 2 and summary.streams == 2


def test_an_unreadable_file_fails_alone(gateway: Gateway, kind: str, tmp_path: Path) -> None:
    write_corpus(tmp_path / "corpus", 3)
    sources = collect([tmp_path / "corpus"]).documents
    (tmp_path / "corpus" / "doc02.txt").unlink()  # gone between listing and sending
    gateway.script.ingest = lambda _i, document: ack(document, document.sequence)
    with Driver(kind, gateway.address, "k", retry=FAST) as client:
        summary = client.ingest_documents(sources, "docs", timeout=30)
    assert gateway.script.ingest_streams == [[1, 3]]
    (failed,) = summary.failed
    assert (failed.document_id, failed.error_code) == ("doc02.txt", "unreadable")
    assert failed.error.startswith("cannot read the file: ")
    assert summary.stored == 2 and summary.streams == 1


def test_collect_media_types_ids_and_skips(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.MD", "sub/c.html", "sub/d.pdf", "e.png", ".hidden.txt"):
        (root / name).write_bytes(b"x")
    selection = collect([root])
    assert [(d.id, d.media_type) for d in selection.documents] == [
        ("a.txt", "text/plain"),
        ("b.MD", "text/markdown"),
        ("sub/c.html", "text/html"),
        ("sub/d.pdf", "application/pdf"),
    ]
    assert [p.name for p in selection.skipped] == ["e.png"]
    with pytest.raises(ValueError, match=r"two documents would have the id 'a\.txt'"):
        collect([root / "a.txt", root])
    with pytest.raises(ValueError, match="not a supported document type"):
        collect([root / "e.png"])
    with pytest.raises(FileNotFoundError):
        collect([root / "missing"])


def test_internal_resumes_but_not_found_does_not(
    gateway: Gateway, kind: str, tmp_path: Path
) -> None:
    write_corpus(tmp_path / "corpus", 3)
    streams = gateway.script.ingest_streams

    def behave(index: int, document: pb.Document) -> pb.IngestResponse | tuple:  # type: ignore[type-arg]
        if len(streams) == 1 and index == 2:
            return rich_status(grpc.StatusCode.INTERNAL, "a bug, logged with the trace id")
        return ack(document, document.sequence)

    gateway.script.ingest = behave
    with Driver(kind, gateway.address, "k", retry=FAST) as client:
        summary = client.ingest([tmp_path / "corpus"], "docs", timeout=30)
    assert streams == [[1, 2], [2, 3]]
    assert summary.stored == 3

    streams.clear()
    gateway.script.ingest = lambda _i, _d: rich_status(
        grpc.StatusCode.NOT_FOUND, "collection 'docs' not found"
    )
    # One document, so that no write races the end of the stream (see above).
    with Driver(kind, gateway.address, "k", retry=FAST) as client, pytest.raises(NotFound):
        client.ingest([tmp_path / "corpus" / "doc01.txt"], "docs", timeout=30)
    assert streams == [[1]]
