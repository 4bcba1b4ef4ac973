"""When to retry a failed call, and after how long: only inside the call's deadline.

UNAVAILABLE and RESOURCE_EXHAUSTED are retried; the wait is the server's advice
(RetryInfo / ``retry-after-ms``) when it gave one, else exponential back-off with
full jitter. A retry whose wait would end past the deadline is not attempted: the
caller gets the error at once instead of a sleep that cannot succeed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import grpc

from ragserve.client.connection import Deadline
from ragserve.client.errors import RETRYABLE_CODES, RagserveError, error_from_exception


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


class Attempts:
    """The attempts of one call inside its deadline, without I/O: the clients make the
    call inside ``with attempts:`` and sleep ``wait_s`` when the block ends early.

    Both clients use it the same way (only the call and the sleep are awaited in one)::

        attempts = Attempts(policy, timeout)
        while True:
            with attempts:
                return stub.Method(request, timeout=attempts.remaining())
            time.sleep(attempts.wait_s)

    A gRPC error leaving the block becomes a :class:`RagserveError`; when the policy
    grants another attempt the block swallows it and ``wait_s`` says how long to wait,
    otherwise that error is raised from the ``with``. Subclasses decide differently
    (:class:`ragserve.client.ingest_session.IngestSession`: one attempt = one stream).
    """

    def __init__(self, policy: RetryPolicy, timeout_s: float | None) -> None:
        self.policy = policy
        self.deadline = Deadline(timeout_s)
        # Attempts started so far.
        self.count = 0
        # Seconds to wait before the next attempt (set when an attempt ends).
        self.wait_s = 0.0
        self._final = False

    def remaining(self) -> float | None:
        """The timeout of the attempt about to start (None: the gateway's default)."""
        return self.deadline.remaining()

    def final(self) -> None:
        """No retry from here on (a query that has yielded an event cannot be replayed
        unnoticed, so a later failure is raised)."""
        self._final = True

    def succeeded(self) -> float:
        """An attempt ended without an error: seconds to wait before any next one."""
        return 0.0

    def failed(self, error: RagserveError) -> float | None:
        """An attempt failed with ``error``: seconds to wait before the next, or None:
        raise ``error``."""
        return None if self._final else self.policy.delay(error, self.count, self.remaining())

    def __enter__(self) -> Self:
        self.count += 1
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if value is None:
            self.wait_s = self.succeeded()
            return False
        if not isinstance(value, grpc.RpcError):
            return False  # not the call's failure (e.g. Ctrl-C): nothing to decide
        error = error_from_exception(value)
        wait = self.failed(error)
        if wait is None:
            raise error from None
        self.wait_s = wait
        return True
