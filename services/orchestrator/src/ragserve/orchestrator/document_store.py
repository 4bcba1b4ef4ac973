"""A collection's documents as chunks in retrieval: versions, completeness, replacement.

A document's version is its content hash. A version is *complete* when the number of its
chunks found equals the ``chunk_count`` each of its chunks carries; a crash in the middle
of writing one leaves it incomplete, and an incomplete version is written again (same
point ids: no duplicates), never taken as UNCHANGED. Replacing a version writes the new
chunks first, then the document's manifest (``ragserve.orchestrator.manifests``) naming
the new version, and deletes every other version's chunks last, so the document is always
findable and always listed once, with a complete version; a crash between the steps
leaves both versions, and the next ingest of the document (UNCHANGED: it writes a missing
or outdated manifest and removes the stale chunks) or a delete finishes the job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ragserve.orchestrator import payload
from ragserve.orchestrator.manifests import DocumentManifests
from ragserve.orchestrator.model import DocumentInfo
from ragserve.orchestrator.peers import Match, Payload, PayloadFilter, PointWrite, VectorPeer


@dataclass(frozen=True, slots=True)
class VersionState:
    # Every chunk of the version is stored.
    complete: bool
    chunk_count: int
    # Chunks of other versions are stored too (a replacement that stopped half-way).
    stale_chunks: bool
    # The first chunk's payload (chunk count, media type, ingest time, metadata).
    first_chunk: Payload | None = None


# What a manifest repeats from the first chunk of its version.
_FIRST_CHUNK_KEYS = (payload.CHUNK_COUNT, payload.INGESTED_AT, payload.MEDIA_TYPE, payload.METADATA)


def _document(document_id: str) -> Match:
    return Match(payload.DOCUMENT_ID, document_id)


def _version(content_hash: str) -> Match:
    return Match(payload.CONTENT_HASH, content_hash)


class DocumentStore:
    def __init__(
        self, vectors: VectorPeer, manifests: DocumentManifests, tenant: str, collection: str
    ) -> None:
        self._vectors = vectors
        self._manifests = manifests
        self._tenant = tenant
        self._collection = collection

    async def version_state(self, document_id: str, content_hash: str) -> VersionState:
        first = payload.chunk_id(document_id, content_hash, 0)
        found = await self._vectors.get_payloads(
            self._tenant, self._collection, [first], _FIRST_CHUNK_KEYS
        )
        if first not in found:
            return VersionState(False, 0, False)
        chunk_count = int(found[first].get(payload.CHUNK_COUNT, 0))
        stored = await self._vectors.count(
            self._tenant,
            self._collection,
            PayloadFilter(must=(_document(document_id), _version(content_hash))),
        )
        if stored != chunk_count:
            return VersionState(False, chunk_count, False)
        total = await self._vectors.count(
            self._tenant, self._collection, PayloadFilter(must=(_document(document_id),))
        )
        return VersionState(True, chunk_count, total > stored, found[first])

    async def write(self, points: Sequence[PointWrite]) -> None:
        """Returns once every point is durable."""
        await self._vectors.upsert(self._tenant, self._collection, points)

    async def delete_other_versions(self, document_id: str, content_hash: str) -> int:
        return await self._vectors.delete_by_filter(
            self._tenant,
            self._collection,
            PayloadFilter(must=(_document(document_id),), must_not=(_version(content_hash),)),
        )

    async def record(self, info: DocumentInfo) -> None:
        """Makes ``info`` (a complete, durable version) the one listed; returns once durable."""
        await self._manifests.write(self._tenant, self._collection, info)

    async def ensure_recorded(
        self, document_id: str, content_hash: str, state: VersionState
    ) -> None:
        """Writes the manifest of a complete stored version when it is missing or names
        another version (a replacement or first write that stopped before its manifest)."""
        listed = await self._manifests.content_hash(self._tenant, self._collection, document_id)
        if listed == content_hash or state.first_chunk is None:
            return
        first = state.first_chunk
        await self.record(
            DocumentInfo(
                id=document_id,
                chunks=state.chunk_count,
                content_hash=content_hash,
                ingested_at=float(first.get(payload.INGESTED_AT, 0.0)),
                media_type=str(first.get(payload.MEDIA_TYPE, "")),
                metadata=dict(first.get(payload.METADATA) or {}),
            )
        )

    async def delete(self, document_id: str) -> int:
        """Unlists the document, then deletes its chunks; returns how many there were."""
        await self._manifests.delete(self._tenant, self._collection, document_id)
        return await self._vectors.delete_by_filter(
            self._tenant, self._collection, PayloadFilter(must=(_document(document_id),))
        )
