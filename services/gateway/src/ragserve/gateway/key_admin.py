"""Creating, listing and revoking API keys, and the bootstrap admin key.

The bootstrap key is how a fresh suite gets its first admin: an operator
passes a key (environment variable or mounted secret file), or the local
launcher asks the gateway to generate one into a file on first start. The key
is registered in the store as a hash like any other; re-registering the same
key at every start is a no-op, so a restart does not reset a revocation.
While the store cannot be reached the registration is retried, and a call
presenting the key is UNAVAILABLE meanwhile, never "unknown API key".
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ragserve.errors import NotFound, Unavailable
from ragserve.gateway.auth import Authenticator
from ragserve.gateway.key_store import KeyStore
from ragserve.gateway.keys import (
    ALL_PERMISSIONS,
    KeyHasher,
    KeyRecord,
    Permission,
    generate_key,
    key_id_of,
    new_record,
)
from ragserve.gateway.redis_link import RedisDown

log = logging.getLogger(__name__)


@contextmanager
def _store_call() -> Iterator[None]:
    try:
        yield
    except RedisDown:
        raise Unavailable("the key store (Redis) is unreachable; retry shortly") from None


@dataclass(frozen=True, slots=True)
class KeyPage:
    keys: list[KeyRecord]
    # Id of the last key of this page when more follow; "" on the last page.
    last_id: str


class KeyAdmin:
    def __init__(
        self,
        store: KeyStore,
        hasher: KeyHasher,
        authenticator: Authenticator,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._authenticator = authenticator
        self._clock = clock

    async def create(
        self,
        tenant: str,
        permissions: frozenset[Permission],
        *,
        description: str = "",
        ttl_s: float | None = None,
    ) -> tuple[KeyRecord, str]:
        """A new key: its record and the key itself (to be shown once)."""
        record, key = new_record(
            self._hasher, tenant, permissions, self._clock(), description=description, ttl_s=ttl_s
        )
        with _store_call():
            await self._store.put(record)
        self._authenticator.remember(record.id, record)
        log.info(
            "api key created",
            extra={"event": "key_created", "key_id": record.id, "tenant": tenant},
        )
        return record, key

    async def list(
        self, tenant: str, *, include_revoked: bool, after_id: str, limit: int
    ) -> KeyPage:
        with _store_call():
            stored = await self._store.list()
        records = [
            r
            for r in stored
            if (not tenant or r.tenant == tenant)
            and (include_revoked or r.revoked_at is None)
            and r.id > after_id
        ]
        page = records[:limit]
        return KeyPage(page, page[-1].id if len(records) > limit else "")

    async def revoke(self, key_id: str) -> KeyRecord:
        with _store_call():
            record = await self._store.get(key_id)
        if record is None:
            raise NotFound(f"no API key with id {key_id!r}")
        revoked = record.revoked(self._clock())
        if revoked is not record:
            with _store_call():
                await self._store.put(revoked)
            log.info("api key revoked", extra={"event": "key_revoked", "key_id": key_id})
        self._authenticator.remember(key_id, revoked)
        return revoked

    async def register_bootstrap(self, key: str, tenant: str, retry_interval_s: float) -> KeyRecord:
        """Stores the bootstrap key's record unless the store has it (e.g. revoked) already;
        returns once the store answered, trying every ``retry_interval_s`` until it does.

        Until then the key is held (:meth:`Authenticator.hold`): a call presenting it is
        UNAVAILABLE. Without the hold, a call between Redis coming back and the next try
        would find no record and be refused as an unknown key — not retryable, and cached.
        """
        key_id = key_id_of(key)
        if key_id is None:
            raise ValueError(
                "the bootstrap key is not a ragserve API key (rsk_<16 hex>_<43 base64url>)"
            )
        self._authenticator.hold(key_id, key)
        waiting = False
        while True:
            try:
                record = await self._register_bootstrap_once(key_id, key, tenant)
            except RedisDown as error:
                if not waiting:
                    waiting = True
                    log.warning(
                        "the bootstrap admin key cannot be registered yet, the key store "
                        "(Redis) is unreachable: %s; retrying every %s s",
                        error,
                        retry_interval_s,
                        extra={"event": "bootstrap_key_waiting"},
                    )
                await asyncio.sleep(retry_interval_s)
                continue
            self._authenticator.release(key_id, record)
            return record

    async def _register_bootstrap_once(self, key_id: str, key: str, tenant: str) -> KeyRecord:
        existing = await self._store.get(key_id)
        if existing is not None:
            # Registered before (maybe revoked since, or bound to another tenant then):
            # the store's record stands; a restart must not undo a revocation.
            if existing.tenant != tenant:
                log.warning(
                    "the bootstrap key is registered for tenant %r, not %r; keeping it",
                    existing.tenant,
                    tenant,
                    extra={"event": "bootstrap_key_tenant"},
                )
            return existing
        record, _ = new_record(
            self._hasher,
            tenant,
            ALL_PERMISSIONS,
            self._clock(),
            description="bootstrap admin key",
            key=key,
        )
        await self._store.put(record)
        log.info(
            "bootstrap admin key registered",
            extra={"event": "bootstrap_key", "key_id": key_id, "tenant": tenant},
        )
        return record


def read_or_create_key_file(path: Path, create: bool) -> str | None:
    """The key in ``path``; when it is missing and ``create``, a new key written there (0600)."""
    if path.exists():
        return path.read_text().strip()
    if not create:
        raise FileNotFoundError(f"bootstrap key file {path} does not exist")
    path.parent.mkdir(parents=True, exist_ok=True)
    _, key = generate_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    log.warning(
        "generated a local admin API key into %s (keep it secret)",
        path,
        extra={"event": "bootstrap_key_created", "path": str(path)},
    )
    return key
