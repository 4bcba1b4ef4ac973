"""The bookkeeping of an ingest across streams: what to (re-)send, when it is done.

Each document gets a sequence number once (1, 2, ...) and keeps it on every
stream. The proto's resume rule: after a lost stream, re-send every document
whose sequence is above the last ``acked_through``. The tracker re-sends every
document without a final ack of its own, which is the same set whenever the
server keeps its word: on one ordered stream a document's ack comes before (or
with) any ``acked_through`` that covers it, and the documents a stream did not
send are settled already. Where a server's ``acked_through`` runs ahead of its
acks, the number alone cannot say whether a document was stored or failed, so
it settles nothing: the document is re-sent (same content = UNCHANGED) like any
other. A document re-sent ``max_attempts`` times without a final ack fails here
with the reason, so every ingest ends, each document with exactly one outcome.
Documents above the resume point that already got a final ack out of order are
not re-sent: a final ack means durable. A retryable failure is re-sent on a later
stream, after the retry delay the server advised.
"""

from __future__ import annotations

from dataclasses import dataclass

from ragserve.client.documents import DocumentSource
from ragserve.client.types import IngestAck, IngestStatus


@dataclass(frozen=True)
class Pending:
    sequence: int
    source: DocumentSource


class IngestTracker:
    def __init__(self, sources: list[DocumentSource], max_attempts: int = 3) -> None:
        self.max_attempts = max_attempts
        self._sources = {sequence: source for sequence, source in enumerate(sources, start=1)}
        self._final: dict[int, IngestAck] = {}
        self._attempts: dict[int, int] = dict.fromkeys(self._sources, 0)
        self._retry_delay_s = 0.0
        # Outcomes decided here rather than acked by the server, not yet taken by the caller.
        self._local: list[IngestAck] = []
        # Why the last stream ended early (said when a document runs out of attempts).
        self.last_stream_error = ""
        # The highest acked_through the server sent (said when a document it covered
        # runs out of attempts without an ack).
        self.acked_through = 0
        for sequence, source in self._sources.items():
            problem = source.problem()
            if problem:
                self.fail_locally(sequence, "invalid_argument", problem)

    @property
    def total(self) -> int:
        return len(self._sources)

    @property
    def total_bytes(self) -> int:
        return sum(source.size for source in self._sources.values())

    def done(self) -> bool:
        return len(self._final) == len(self._sources)

    def results(self) -> list[IngestAck]:
        return [self._final[sequence] for sequence in sorted(self._final)]

    def take_local(self) -> list[IngestAck]:
        """Outcomes decided without a server ack since the last call (refused, unreadable,
        out of attempts), for the caller to report like acks."""
        taken, self._local = self._local, []
        return taken

    def fail_locally(self, sequence: int, error_code: str, reason: str) -> None:
        source = self._sources[sequence]
        if sequence in self._final:
            return
        ack = IngestAck(
            sequence, source.id, IngestStatus.FAILED, 0, source.size,
            error_code=error_code, error=reason, retryable=error_code == "unavailable",
        )  # fmt: skip
        self._settle(ack)
        self._local.append(ack)

    def next_stream(self) -> list[Pending]:
        """The documents the next stream sends, in sequence order; counts an attempt for each.

        A document sent ``max_attempts`` times without a final ack fails here, so the
        batch is empty only when every document has its outcome (``done()``)."""
        batch = []
        for sequence, source in self._sources.items():
            if sequence in self._final:
                continue
            if self._attempts[sequence] >= self.max_attempts:
                self.fail_locally(sequence, "unavailable", self._unacked_reason(sequence))
                continue
            batch.append(Pending(sequence, source))
        for pending in batch:
            self._attempts[pending.sequence] += 1
        self._retry_delay_s = 0.0
        return batch

    def _unacked_reason(self, sequence: int) -> str:
        reason = f"no final acknowledgement after {self.max_attempts} attempts"
        if sequence <= self.acked_through:
            reason += (
                f" (the server's acked_through {self.acked_through}"
                " covered it without acknowledging it)"
            )
        elif self.last_stream_error:
            reason += f" (last stream: {self.last_stream_error})"
        return reason

    def retry_delay_s(self) -> float:
        """The longest retry delay the server advised on the last stream's retryable failures."""
        return self._retry_delay_s

    def record(
        self,
        sequence: int,
        status: IngestStatus,
        chunks: int,
        acked_through: int,
        *,
        error_code: str = "",
        error: str = "",
        retryable: bool = False,
        retry_delay_s: float | None = None,
    ) -> IngestAck | None:
        """Takes one ack; returns the document's final outcome, or None when it will be re-sent."""
        source = self._sources.get(sequence)
        if source is None or sequence in self._final:
            return None  # not ours, or a duplicate ack of a settled document
        self.acked_through = max(self.acked_through, min(acked_through, len(self._sources)))
        ack = IngestAck(
            sequence,
            source.id,
            status,
            chunks,
            source.size,
            error_code=error_code,
            error=error,
            retryable=retryable,
        )
        if (
            status is IngestStatus.FAILED
            and retryable
            and self._attempts[sequence] < self.max_attempts
        ):
            self._retry_delay_s = max(self._retry_delay_s, retry_delay_s or 0.0)
            return None
        self._settle(ack)
        return ack

    def _settle(self, ack: IngestAck) -> None:
        self._final[ack.sequence] = ack

    def give_up(self, reason: str) -> None:
        """Fails every unsettled document (the ingest ends without them); see take_local."""
        for sequence in list(self._sources):
            self.fail_locally(sequence, "unavailable", reason)
