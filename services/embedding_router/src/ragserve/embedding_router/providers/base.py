"""The interface every provider client implements, and the one error it raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Priority(IntEnum):
    """A call's priority at the providers' batchers (lower is served first)."""

    HIGH = 0
    NORMAL = 1
    LOW = 2


class ProviderError(Exception):
    """A provider call failed.

    ``retryable``: the same texts may succeed on another try or another provider (timeouts,
    connection errors, 429, 5xx). Not retryable: the provider rejected the input itself (4xx).
    ``throttled``: the provider asked us to slow down (429); ``retry_after_s`` says for how long
    when it told us. Throttling is not a fault of the provider and does not trip its breaker.
    The message never contains the texts sent.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        throttled: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.throttled = throttled
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class EmbeddingReply:
    """One provider call's answer: ``vectors`` is float32 (len(texts), dimension) in the order
    of the texts; ``total_tokens`` is what the provider says the call consumed (OpenAI's
    ``usage.total_tokens``), None when it does not say."""

    vectors: Vectors
    total_tokens: int | None = None


class EmbeddingClient(Protocol):
    """Computes vectors for texts by calling one provider once (one network request).

    Invariant: returns an :class:`EmbeddingReply` whose vectors are in the order of ``texts``,
    or raises :class:`ProviderError`. ``timeout_s`` is the time left to the caller's deadline;
    the client must give up by then. ``priority`` is the highest priority among the callers
    whose texts the call carries; a provider without priorities ignores it. Cancelling the call
    abandons the request.
    """

    async def embed(
        self, texts: Sequence[str], timeout_s: float, priority: Priority = Priority.NORMAL
    ) -> EmbeddingReply: ...

    async def close(self) -> None: ...
