"""One ingest as both clients run it, without I/O: which stream to open with which
documents, what each ack and each stream's end means, how long to wait before the next.

The clients only open the streams, read the files, send the messages and sleep::

    session = IngestSession(sources, collection, policy, ...)
    while (batch := session.next_stream()) is not None:
        with session:  # one stream; a lost one is resumed or its error raised here
            for response in stub.Ingest(session.messages(batch, read), ...):
                session.ack(response)
        time.sleep(session.wait_s)
    return session.summary

The resume rule itself (sequences, ``acked_through``, attempts per document) is the
:class:`ragserve.client.ingest.IngestTracker`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.client import convert, types
from ragserve.client.documents import DocumentSource
from ragserve.client.errors import RagserveError
from ragserve.client.ingest import IngestTracker, Pending
from ragserve.client.retry import RESUMABLE_CODES, Attempts, RetryPolicy

AckCallback = Callable[[types.IngestAck], None]


def read_file(pending: Pending) -> bytes | OSError:
    """A document's bytes, or why they cannot be read (changes nothing: safe in a thread)."""
    try:
        return pending.source.read()
    except OSError as error:
        return error


class IngestSession(Attempts):
    """An ingest's streams as :class:`Attempts`: ``with session:`` around each stream."""

    def __init__(
        self,
        sources: list[DocumentSource],
        collection: str,
        policy: RetryPolicy,
        *,
        on_ack: AckCallback | None = None,
        max_tokens: int = 0,
        overlap_tokens: int | None = None,
        timeout_s: float | None = None,
    ) -> None:
        super().__init__(policy, timeout_s)
        self.tracker = IngestTracker(sources)
        self.summary = types.IngestSummary(collection)
        # The first message of every stream.
        self.config = convert.ingest_config(collection, max_tokens, overlap_tokens)
        self._on_ack = on_ack
        self._failures = 0  # streams lost so far
        # (sequence, reason) of files that could not be read, not yet given to the tracker.
        self._unreadable: list[tuple[int, str]] = []
        self._report_local()

    def next_stream(self) -> list[Pending] | None:
        """The documents the next stream sends; None when every document has its outcome."""
        while not self.tracker.done():
            batch = self.tracker.next_stream()
            self._report_local()
            if batch:
                self.summary.streams += 1
                return batch
        return None

    def document(self, pending: Pending, data: bytes | OSError) -> pb.IngestRequest | None:
        """The message of one document read by :func:`read_file`; None for a file that
        could not be read (it fails alone, the stream goes on)."""
        if isinstance(data, OSError):
            # Settled later by the thread that reads the acks (_report_local): the sync
            # client's request iterator runs on a thread of grpc's, and the tracker is not
            # meant for two threads at once.
            self._unreadable.append((pending.sequence, f"cannot read the file: {data}"))
            return None
        return convert.ingest_document(pending.sequence, pending.source, data)

    def messages(
        self, batch: list[Pending], read: Callable[[Pending], bytes | OSError] = read_file
    ) -> Iterator[pb.IngestRequest]:
        """A stream's messages as a request iterator, each file read when its turn comes."""
        yield self.config
        for pending in batch:
            message = self.document(pending, read(pending))
            if message is not None:
                yield message

    def ack(self, response: pb.IngestResponse) -> None:
        outcome = self.tracker.record(**convert.ack_fields(response))
        if outcome is not None:
            self._report(outcome)

    def succeeded(self) -> float:
        """A stream ended: wait the longest delay its retryable failures advised."""
        self._report_local()
        return self._until_done(self.tracker.retry_delay_s())

    def failed(self, error: RagserveError) -> float | None:
        """A stream was lost: resume after a wait, or None: ``error`` is raised."""
        self._report_local()
        self.tracker.last_stream_error = str(error)
        self._failures += 1
        wait = self.policy.delay(error, self._failures, self.remaining(), RESUMABLE_CODES)
        return None if wait is None else self._until_done(wait)

    def _until_done(self, seconds: float) -> float:
        return seconds if not self.tracker.done() else 0.0

    def _report(self, ack: types.IngestAck) -> None:
        self.summary.acks.append(ack)
        if self._on_ack is not None:
            self._on_ack(ack)

    def _report_local(self) -> None:
        while self._unreadable:
            sequence, reason = self._unreadable.pop(0)
            self.tracker.fail_locally(sequence, "unreadable", reason)
        for ack in self.tracker.take_local():
            self._report(ack)
