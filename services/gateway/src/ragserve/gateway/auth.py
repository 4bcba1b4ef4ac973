"""Who is calling: the ``authorization`` metadata → a :class:`Principal`, or an error.

Key records are cached per replica for ``cache_ttl_s`` (≤ 2 s), which bounds how
long a revoked key keeps working on a replica that has not re-read it. When the
store cannot be reached, a cached record keeps verifying calls for
``stale_ttl_s`` (and each such call is counted); a key never seen by this replica
cannot be verified then, and the call is UNAVAILABLE. Unknown keys are cached
too (as absent), so a flood of bad keys does not become a flood of store reads.

Every refusal says why in words safe to show the caller: a key that is unknown
and a key whose secret does not match get the same message, so the existence of
an id is not revealed.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ragserve.errors import PermissionDenied, Unauthenticated, Unavailable
from ragserve.gateway.key_store import KeyStore
from ragserve.gateway.keys import KeyHasher, KeyRecord, Permission, key_id_of
from ragserve.gateway.metrics import AUTH_REJECTED, STALE_KEYS_USED
from ragserve.gateway.redis_link import RedisDown

log = logging.getLogger(__name__)

BEARER = "bearer "
# Cached records per replica; beyond it the oldest entries go (bounded memory under a
# flood of distinct well-formed keys).
MAX_CACHED = 100_000


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as its key says."""

    key_id: str
    tenant: str
    permissions: frozenset[Permission]

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            AUTH_REJECTED.labels("permission").inc()
            raise PermissionDenied(
                f"this API key lacks the {permission.value!r} permission "
                f"(it has: {', '.join(sorted(p.value for p in self.permissions)) or 'none'})"
            )


def _reject(reason: str, message: str) -> Unauthenticated:
    AUTH_REJECTED.labels(reason).inc()
    return Unauthenticated(message)


class Authenticator:
    def __init__(
        self,
        store: KeyStore,
        hasher: KeyHasher,
        *,
        cache_ttl_s: float,
        stale_ttl_s: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._ttl = cache_ttl_s
        self._stale_ttl = stale_ttl_s
        self._clock = clock
        self._monotonic = monotonic
        # key id → (record or None for unknown, monotonic time it was read)
        self._cache: dict[str, tuple[KeyRecord | None, float]] = {}
        self._pending: dict[str, asyncio.Future[KeyRecord | None]] = {}
        # Keys this gateway was configured with and is still registering (key id → key):
        # the store does not know them *yet*, so "unknown API key" would be wrong.
        self._unregistered: dict[str, str] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise _reject(
                "missing", "missing API key: send the metadata 'authorization: Bearer <key>'"
            )
        if not authorization[: len(BEARER)].lower() == BEARER:
            raise _reject("malformed", "malformed authorization: expected 'Bearer <key>'")
        key = authorization[len(BEARER) :].strip()
        key_id = key_id_of(key)
        if key_id is None:
            raise _reject(
                "malformed", "malformed API key: expected rsk_<16 hex digits>_<43 characters>"
            )
        if self._unregistered:
            self._refuse_unregistered(key_id, key)
        record = await self._record(key_id)
        if record is None or not self._hasher.matches(key, record):
            raise _reject("unknown", "unknown API key")
        now = self._clock()
        if record.revoked_at is not None:
            raise _reject("revoked", "API key revoked")
        if record.expires_at is not None and record.expires_at <= now:
            raise _reject("expired", "API key expired")
        return Principal(record.id, record.tenant, record.permissions)

    def hold(self, key_id: str, key: str) -> None:
        """``key`` is being registered: until :meth:`release`, a call presenting it is
        UNAVAILABLE (retry), whatever the store says meanwhile."""
        self._unregistered[key_id] = key

    def release(self, key_id: str, record: KeyRecord) -> None:
        """The held key's record is in the store: verify it from ``record`` on."""
        self._unregistered.pop(key_id, None)
        self.remember(key_id, record)

    def _refuse_unregistered(self, key_id: str, key: str) -> None:
        held = self._unregistered.get(key_id)
        # Only the held key itself: another secret under its id is unknown, as ever.
        if held is not None and hmac.compare_digest(held.encode(), key.encode()):
            raise Unavailable(
                "this API key is not registered yet: the key store is unreachable; retry shortly"
            )

    async def _record(self, key_id: str) -> KeyRecord | None:
        cached = self._cache.get(key_id)
        now = self._monotonic()
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        try:
            record = await self._fetch(key_id)
        except RedisDown:
            if cached is not None and now - cached[1] < self._stale_ttl:
                STALE_KEYS_USED.inc()
                return cached[0]
            raise Unavailable(
                "the key store is unreachable and this API key is not cached; retry shortly"
            ) from None
        self.remember(key_id, record)
        return record

    async def _fetch(self, key_id: str) -> KeyRecord | None:
        """One store read per key at a time: calls that find the cache stale together
        (every TTL, under load) share it."""
        pending = self._pending.get(key_id)
        if pending is None:
            pending = asyncio.ensure_future(self._store.get(key_id))
            self._pending[key_id] = pending
            pending.add_done_callback(lambda done: self._settled(key_id, done))
        # Shielded: a caller that goes away does not cancel the others' read.
        return await asyncio.shield(pending)

    def _settled(self, key_id: str, done: asyncio.Future[KeyRecord | None]) -> None:
        self._pending.pop(key_id, None)
        if not done.cancelled():
            done.exception()  # retrieved here too, in case every waiter went away

    def remember(self, key_id: str, record: KeyRecord | None) -> None:
        """Caches what the store said (also after this replica wrote it)."""
        if len(self._cache) >= MAX_CACHED and key_id not in self._cache:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key_id] = (record, self._monotonic())
