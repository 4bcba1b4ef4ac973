"""Where key records live: a file (one node) or Redis (shared by replicas).

Both keep only :class:`KeyRecord` s — hashes, never keys — and both survive a
restart of the suite: the file by being a file (written to a temporary file,
fsynced and renamed, so a crash leaves the old or the new version), Redis only
when it runs with persistence (AOF), which the deployment docs require for this
store. Several processes may share the file store on one node: writers take an
exclusive lock and re-read it, readers re-read it when it changed.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import redis.asyncio as aioredis

from ragserve.gateway.keys import KeyRecord
from ragserve.gateway.redis_link import RedisLink


class KeyStore(Protocol):
    async def get(self, key_id: str) -> KeyRecord | None:
        """The record of ``key_id``; None when there is none. Raises RedisDown for Redis."""
        ...

    async def put(self, record: KeyRecord) -> None:
        """Create or replace a record."""
        ...

    async def list(self) -> list[KeyRecord]:
        """Every record, sorted by id."""
        ...

    async def close(self) -> None: ...


class FileKeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._records: dict[str, KeyRecord] = {}
        self._version: tuple[int, int, int] | None = None

    async def get(self, key_id: str) -> KeyRecord | None:
        return (await asyncio.to_thread(self._read)).get(key_id)

    async def put(self, record: KeyRecord) -> None:
        await asyncio.to_thread(self._put, record)

    async def list(self) -> list[KeyRecord]:
        records = await asyncio.to_thread(self._read)
        return [records[key_id] for key_id in sorted(records)]

    async def close(self) -> None:
        return None

    def _read(self) -> dict[str, KeyRecord]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._records, self._version = {}, None
            return self._records
        # Every write renames a new file into place: a new inode, even within one mtime tick.
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if version != self._version:
            data = json.loads(self.path.read_text())
            self._records = {r["id"]: KeyRecord.from_json(r) for r in data.get("keys", [])}
            self._version = version
        return self._records

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _put(self, record: KeyRecord) -> None:
        with self._exclusive():
            self._version = None  # another process may have written since our last read
            records = dict(self._read())
            records[record.id] = record
            payload = {"keys": [records[key_id].to_json() for key_id in sorted(records)]}
            descriptor, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=self.path.name, suffix=".tmp"
            )
            try:
                with os.fdopen(descriptor, "w") as handle:
                    os.fchmod(handle.fileno(), 0o600)
                    json.dump(payload, handle, indent=1)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            self._version = None


class RedisKeyStore:
    """One JSON value per key under ``<prefix>:key:{<id>}`` plus an index set of ids."""

    def __init__(self, link: RedisLink, prefix: str = "ragserve:gateway") -> None:
        self._link = link
        self._prefix = prefix
        self._index = f"{prefix}:keys"

    def record_key(self, key_id: str) -> str:
        # Hash tag: the record and the key's rate-limit counters share one cluster slot.
        return f"{self._prefix}:key:{{{key_id}}}"

    async def get(self, key_id: str) -> KeyRecord | None:
        raw = await self._link.call("key_get", lambda r: r.get(self.record_key(key_id)))
        return None if raw is None else KeyRecord.from_json(json.loads(raw))

    async def put(self, record: KeyRecord) -> None:
        value = json.dumps(record.to_json())

        async def write(redis: aioredis.Redis) -> None:
            await redis.set(self.record_key(record.id), value)
            await redis.sadd(self._index, record.id)

        await self._link.call("key_put", write)

    async def list(self) -> list[KeyRecord]:
        async def read(redis: aioredis.Redis) -> list[KeyRecord]:
            ids = sorted(
                member.decode() if isinstance(member, bytes) else str(member)
                for member in await redis.smembers(self._index)
            )
            if not ids:
                return []
            # One GET per key (not MGET): the records live in different cluster slots.
            pipeline = redis.pipeline(transaction=False)
            for key_id in ids:
                pipeline.get(self.record_key(key_id))
            values = await pipeline.execute()
            return [KeyRecord.from_json(json.loads(v)) for v in values if v is not None]

        return await self._link.call("key_list", read)

    async def close(self) -> None:
        return None
