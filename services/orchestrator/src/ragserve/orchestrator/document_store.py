"""A collection's documents as chunks in retrieval: versions, completeness, replacement.

A document's version is its content hash. A version is *complete* when the number of its
chunks found equals the ``chunk_count`` each of its chunks carries; a crash in the middle
of writing one leaves it incomplete, and an incomplete version is written again (same
point ids: no duplicates), never taken as UNCHANGED. Replacing a version writes the new
chunks first and deletes every other version's chunks after, so the document is always
findable; a crash between the two leaves both, and the next ingest of the document
(UNCHANGED) or a delete removes the stale ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ragserve.orchestrator import payload
from ragserve.orchestrator.collections import FIRST_CHUNKS
from ragserve.orchestrator.model import DocumentInfo, DocumentPage
from ragserve.orchestrator.peers import Match, PayloadFilter, PointWrite, VectorPeer


@dataclass(frozen=True, slots=True)
class VersionState:
    # Every chunk of the version is stored.
    complete: bool
    chunk_count: int
    # Chunks of other versions are stored too (a replacement that stopped half-way).
    stale_chunks: bool


def _document(document_id: str) -> Match:
    return Match(payload.DOCUMENT_ID, document_id)


def _version(content_hash: str) -> Match:
    return Match(payload.CONTENT_HASH, content_hash)


class DocumentStore:
    def __init__(self, vectors: VectorPeer, tenant: str, collection: str, dimension: int) -> None:
        self._vectors = vectors
        self._tenant = tenant
        self._collection = collection
        self._dimension = dimension

    async def version_state(self, document_id: str, content_hash: str) -> VersionState:
        first = payload.chunk_id(document_id, content_hash, 0)
        found = await self._vectors.get_payloads(
            self._tenant, self._collection, [first], [payload.CHUNK_COUNT]
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
        return VersionState(True, chunk_count, total > stored)

    async def write(self, points: Sequence[PointWrite]) -> None:
        """Returns once every point is durable."""
        await self._vectors.upsert(self._tenant, self._collection, points)

    async def delete_other_versions(self, document_id: str, content_hash: str) -> int:
        return await self._vectors.delete_by_filter(
            self._tenant,
            self._collection,
            PayloadFilter(must=(_document(document_id),), must_not=(_version(content_hash),)),
        )

    async def delete(self, document_id: str) -> int:
        return await self._vectors.delete_by_filter(
            self._tenant, self._collection, PayloadFilter(must=(_document(document_id),))
        )

    async def list(self, limit: int, offset: int) -> DocumentPage:
        """A page of documents, found by their first chunks through an exact search with a
        fixed vector (retrieval has no scroll): deterministic order while nothing is written."""
        probe = [1.0] + [0.0] * (self._dimension - 1)
        hits = await self._vectors.search(
            self._tenant,
            self._collection,
            probe,
            limit=limit,
            offset=offset,
            filter=FIRST_CHUNKS,
            exact=True,
        )
        documents = [
            DocumentInfo(
                id=str(hit.payload.get(payload.DOCUMENT_ID, "")),
                chunks=int(hit.payload.get(payload.CHUNK_COUNT, 0)),
                content_hash=str(hit.payload.get(payload.CONTENT_HASH, "")),
                ingested_at=float(hit.payload.get(payload.INGESTED_AT, 0.0)),
                media_type=str(hit.payload.get(payload.MEDIA_TYPE, "")),
                metadata=dict(hit.payload.get(payload.METADATA) or {}),
            )
            for hit in hits
        ]
        more = len(hits) == limit
        next_offset = offset + limit
        return DocumentPage(documents, str(next_offset) if more else "")
