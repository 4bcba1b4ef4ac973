"""The gateway's edge logic, free of gRPC: who calls, may they, how much.

``admit`` runs before anything else of every RPC: authenticate the key, check
the RPC's permission, charge the rate limits (one request, plus texts). Ingest
documents are charged by their bytes as they arrive; a stream over the limit is
paced (the next document is read later), so a large upload slows down instead
of failing half-way.
"""

from __future__ import annotations

import asyncio
import math

from ragserve.errors import DeadlineExceeded, ResourceExhausted
from ragserve.gateway.auth import Authenticator, Principal
from ragserve.gateway.limits import UNITS, Limit
from ragserve.gateway.policy import POLICIES
from ragserve.gateway.rate_limit import RateLimiter
from ragserve.runtime import deadlines


class GatewayCore:
    def __init__(self, authenticator: Authenticator, limiter: RateLimiter) -> None:
        self.authenticator = authenticator
        self.limiter = limiter

    async def admit(self, rpc: str, authorization: str | None, *, texts: int = 0) -> Principal:
        principal = await self.authenticator.authenticate(authorization)
        principal.require(POLICIES[rpc].permission)
        decision = await self.limiter.acquire(
            principal.key_id, {Limit.REQUESTS: 1, Limit.TEXTS: texts}
        )
        if not decision.allowed:
            assert decision.limit is not None
            retry_after_s = _round_up_ms(decision.retry_after_s)
            raise ResourceExhausted(
                f"rate limit of this API key exceeded ({UNITS[decision.limit]}); "
                f"retry after {retry_after_s * 1000:.0f} ms",
                retry_after_s=retry_after_s,
            )
        return principal

    async def pace_ingest(self, principal: Principal, content_bytes: int) -> None:
        """Waits until the key's ingest-bytes bucket admits the document, within the deadline."""
        while True:
            decision = await self.limiter.acquire(
                principal.key_id, {Limit.INGEST_BYTES: content_bytes}
            )
            if decision.allowed:
                return
            remaining = deadlines.remaining()
            if remaining is not None and remaining <= decision.retry_after_s:
                raise DeadlineExceeded(
                    "the ingest rate limit would delay the next document past the deadline"
                )
            await asyncio.sleep(decision.retry_after_s)


def _round_up_ms(seconds: float) -> float:
    return max(0.001, math.ceil(seconds * 1000) / 1000)
