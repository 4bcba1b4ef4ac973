"""The core both clients run, without a server: Attempts decides retries and waits,
IngestSession runs the resume loop fed acks and stream ends directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from scripted_gateway import TRACE_ID, rich_status

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.client import IngestAck, IngestStatus, NotFound, RetryPolicy, Unavailable
from ragserve.client.documents import DocumentSource
from ragserve.client.ingest import Pending
from ragserve.client.ingest_session import IngestSession, read_file
from ragserve.client.retry import Attempts

NO_JITTER = RetryPolicy(max_attempts=3, initial_backoff_s=0.1)


class FailedCall(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """What a sync stub raises for a failed call: an RpcError that is also the call."""

    def __init__(self, code: grpc.StatusCode, message: str, **details: Any) -> None:
        _, _, self._trailers = rich_status(code, message, **details)
        self._code, self._message = code, message

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> Any:
        return self._trailers

    def initial_metadata(self) -> Any:
        return (("x-trace-id", TRACE_ID),)

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


def unavailable(**details: Any) -> FailedCall:
    return FailedCall(grpc.StatusCode.UNAVAILABLE, "down", **details)


# ------------------------------------------------------------ Attempts


def test_a_retryable_failure_is_swallowed_with_the_advised_wait() -> None:
    attempts = Attempts(NO_JITTER, timeout_s=10)
    with attempts:
        raise unavailable(retry_delay_s=0.25)
    assert (attempts.count, attempts.wait_s) == (1, 0.25)
    with attempts:
        pass  # the next attempt succeeds
    assert attempts.count == 2


def test_a_failure_that_cannot_be_retried_is_raised_as_the_sdk_error() -> None:
    attempts = Attempts(NO_JITTER, timeout_s=10)
    with pytest.raises(NotFound) as caught, attempts:
        raise FailedCall(grpc.StatusCode.NOT_FOUND, "no such collection")
    assert (caught.value.message, caught.value.trace_id) == ("no such collection", TRACE_ID)
    assert caught.value.__suppress_context__


def test_attempts_run_out_and_advice_past_the_deadline_is_not_waited() -> None:
    attempts = Attempts(NO_JITTER, timeout_s=None)
    for _ in range(2):
        with attempts:
            raise unavailable()
        assert 0 <= attempts.wait_s <= 0.2
    with pytest.raises(Unavailable), attempts:
        raise unavailable()
    short = Attempts(NO_JITTER, timeout_s=1.0)
    with pytest.raises(Unavailable), short:
        raise unavailable(retry_delay_s=5)


def test_after_final_nothing_is_retried_and_other_exceptions_pass() -> None:
    attempts = Attempts(NO_JITTER, timeout_s=10)
    attempts.final()
    with pytest.raises(Unavailable), attempts:
        raise unavailable()
    with pytest.raises(KeyboardInterrupt), Attempts(NO_JITTER, 10):
        raise KeyboardInterrupt


# ------------------------------------------------------------ IngestSession


def sources(count: int) -> list[DocumentSource]:
    return [
        DocumentSource(f"d{i}.txt", Path(f"/nowhere/d{i}.txt"), "text/plain", 10)
        for i in range(1, count + 1)
    ]


def ack(sequence: int, through: int, status: int = pb.INGEST_STATUS_STORED) -> pb.IngestResponse:
    return pb.IngestResponse(sequence=sequence, status=status, chunks=1, acked_through=through)


def sent(session: IngestSession, batch: list[Pending]) -> list[int]:
    """The sequences of a stream's documents, every file read as b'x'."""
    messages = list(session.messages(batch, read=lambda _p: b"x"))
    assert messages[0] == session.config
    return [m.document.sequence for m in messages[1:]]


def test_a_lost_stream_resumes_above_the_last_ack() -> None:
    seen: list[IngestAck] = []
    session = IngestSession(sources(4), "docs", NO_JITTER, on_ack=seen.append, timeout_s=60)
    assert session.config.config.collection == "docs"
    batch = session.next_stream()
    assert batch is not None and sent(session, batch) == [1, 2, 3, 4]
    with session:
        session.ack(ack(1, 1))
        session.ack(ack(3, 1))  # out of order: 2 is still in flight
        raise unavailable()
    assert [a.sequence for a in seen] == [1, 3]
    assert session.tracker.last_stream_error == "UNAVAILABLE: down"
    batch = session.next_stream()
    assert batch is not None and sent(session, batch) == [2, 4]  # 3 had its final ack
    with session:
        session.ack(ack(2, 3, pb.INGEST_STATUS_UNCHANGED))
        session.ack(ack(4, 4))
    assert session.wait_s == 0.0
    assert session.next_stream() is None
    assert session.summary.streams == 2
    assert (session.summary.stored, session.summary.unchanged) == (3, 1)
    assert session.summary.acks == seen


def test_a_stream_error_a_retry_cannot_cure_is_raised_after_reporting() -> None:
    seen: list[IngestAck] = []
    big = DocumentSource("big.txt", Path("/x"), "text/plain", 9 * 1024 * 1024)
    session = IngestSession([big, *sources(1)], "docs", NO_JITTER, on_ack=seen.append)
    assert [(a.document_id, a.error_code) for a in seen] == [("big.txt", "invalid_argument")]
    batch = session.next_stream()
    assert batch is not None and [p.sequence for p in batch] == [2]
    with pytest.raises(NotFound), session:
        raise FailedCall(grpc.StatusCode.NOT_FOUND, "collection 'docs' not found")


def test_internal_is_resumed_and_losses_are_counted_across_streams() -> None:
    session = IngestSession(sources(1), "docs", RetryPolicy(max_attempts=2), timeout_s=60)
    session.next_stream()
    with session:
        raise FailedCall(grpc.StatusCode.INTERNAL, "ended during a write")
    session.next_stream()
    with pytest.raises(Unavailable), session:
        raise unavailable()  # the second loss: the policy's attempts are spent


def test_a_retryable_document_failure_waits_its_advice() -> None:
    session = IngestSession(sources(2), "docs", NO_JITTER)
    session.next_stream()
    failed = ack(1, 0, pb.INGEST_STATUS_FAILED)
    failed.error.code = pb.INGEST_ERROR_CODE_UNAVAILABLE
    failed.error.retryable = True
    failed.error.retry_delay.FromMilliseconds(400)
    with session:
        session.ack(failed)
        session.ack(ack(2, 0))
    assert session.wait_s == pytest.approx(0.4)
    batch = session.next_stream()
    assert batch is not None and [p.sequence for p in batch] == [1]


def test_an_unreadable_file_fails_alone_when_the_stream_ends(tmp_path: Path) -> None:
    seen: list[IngestAck] = []
    session = IngestSession(sources(2), "docs", NO_JITTER, on_ack=seen.append)
    batch = session.next_stream()
    assert batch is not None
    missing = read_file(batch[0])
    assert isinstance(missing, FileNotFoundError)
    assert session.document(batch[0], missing) is None
    message = session.document(batch[1], b"text")
    assert message is not None and message.document.data == b"text"
    assert seen == []  # settled by the thread reading acks, at the stream's end
    with session:
        session.ack(ack(2, 2))
    assert [(a.document_id, a.status, a.error_code) for a in seen] == [
        ("d2.txt", IngestStatus.STORED, ""),
        ("d1.txt", IngestStatus.FAILED, "unreadable"),
    ]
    assert seen[1].error.startswith("cannot read the file: ")
    assert session.next_stream() is None
