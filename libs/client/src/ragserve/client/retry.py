"""When to retry a failed call, and after how long: only inside the call's deadline.

UNAVAILABLE and RESOURCE_EXHAUSTED are retried; the wait is the server's advice
(RetryInfo / ``retry-after-ms``) when it gave one, else exponential back-off with
full jitter. A retry whose wait would end past the deadline is not attempted: the
caller gets the error at once instead of a sleep that cannot succeed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import grpc

from ragserve.client.errors import RETRYABLE_CODES, RagserveError


@dataclass(frozen=True)
class RetryPolicy:
    # Attempts in all, the first included; 1 = never retry.
    max_attempts: int = 5
    # Back-off of the first retry in seconds (without server advice), doubled per retry.
    initial_backoff_s: float = 0.1
    # Largest back-off in seconds.
    max_backoff_s: float = 5.0
    # Seconds a retried attempt needs at least to be worth starting.
    min_attempt_s: float = 0.05
    jitter: random.Random = field(default_factory=random.Random, compare=False)

    def delay(
        self,
        error: RagserveError,
        attempt: int,
        remaining_s: float | None,
        codes: frozenset[grpc.StatusCode] = RETRYABLE_CODES,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None: raise ``error`` now.

        ``attempt`` counts the attempts made so far (1 after the first failure);
        ``remaining_s`` is the time left to the deadline (None: no deadline); ``codes``
        are the statuses worth another attempt.
        """
        if error.code not in codes or attempt >= self.max_attempts:
            return None
        if error.retry_delay_s is not None:
            wait = error.retry_delay_s
        else:
            ceiling = min(self.max_backoff_s, self.initial_backoff_s * 2 ** (attempt - 1))
            wait = self.jitter.uniform(0, ceiling)
        if remaining_s is not None and wait + self.min_attempt_s > remaining_s:
            return None
        return wait


NO_RETRY = RetryPolicy(max_attempts=1)

# A lost ingest stream is also resumed after INTERNAL: the API calls an internal failure
# retryable, resuming re-sends nothing already durable (same content = UNCHANGED), and
# grpc's asyncio client can report a stream the server ended during a write as INTERNAL.
RESUMABLE_CODES = RETRYABLE_CODES | {grpc.StatusCode.INTERNAL}
