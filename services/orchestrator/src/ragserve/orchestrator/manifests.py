"""Document manifests: one point per stored document, what listings and counts read.

A document's chunks change ids with every version (they are written beside the old ones
before those are deleted), so neither their order nor their number says which documents
a collection holds while one is being replaced. A manifest does: its id depends on
(collection, document id) only (:func:`payload.manifest_id`), and it is written once the
version it names is complete and durable, before the other versions are deleted. So a
listing — retrieval's Scroll over the tenant's manifests of one collection, in point-id
order — shows each document once, always at the same place, always with a complete
version; and a collection's document count is a count of its manifests.

Manifests live in one retrieval collection per tenant (:data:`payload.DOCUMENTS_COLLECTION`,
hidden like the registry), created on the first write, with a payload index on the
collection name.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import uuid
from typing import Any

from ragserve.errors import AlreadyExists, InvalidArgument, NotFound
from ragserve.orchestrator import payload, validation
from ragserve.orchestrator.model import DocumentInfo, DocumentPage, MetadataType
from ragserve.orchestrator.peers import Match, Payload, PayloadFilter, PointWrite, VectorPeer

# Manifest points carry one dimension: retrieval needs a vector, nothing searches it.
_VECTOR = (1.0,)
_INDEXES = ((payload.COLLECTION, MetadataType.KEYWORD),)
# Page tokens: a version prefix and the next manifest id, base64url without padding.
_TOKEN_PREFIX = "d1"


def encode_token(next_offset: str) -> str:
    raw = uuid.UUID(next_offset).bytes
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: str) -> str:
    """The manifest id a page token starts at; InvalidArgument naming ``page_token``."""
    if token.startswith(_TOKEN_PREFIX) and len(token) == len(_TOKEN_PREFIX) + 22:
        with contextlib.suppress(binascii.Error, ValueError):
            raw = base64.b64decode(token[len(_TOKEN_PREFIX) :] + "==", b"-_", validate=True)
            return str(uuid.UUID(bytes=raw))
    raise InvalidArgument(
        "page_token", f"{validation.shown(token)} is not a token this service gave"
    )


def _of_collection(collection: str) -> PayloadFilter:
    return PayloadFilter(must=(Match(payload.COLLECTION, collection),))


def _manifest_payload(collection: str, info: DocumentInfo) -> dict[str, Any]:
    return {
        payload.COLLECTION: collection,
        payload.DOCUMENT_ID: info.id,
        payload.CONTENT_HASH: info.content_hash,
        payload.CHUNK_COUNT: info.chunks,
        payload.INGESTED_AT: info.ingested_at,
        payload.MEDIA_TYPE: info.media_type,
        payload.METADATA: dict(info.metadata),
    }


def _info_in(values: Payload) -> DocumentInfo:
    return DocumentInfo(
        id=str(values.get(payload.DOCUMENT_ID, "")),
        chunks=int(values.get(payload.CHUNK_COUNT, 0)),
        content_hash=str(values.get(payload.CONTENT_HASH, "")),
        ingested_at=float(values.get(payload.INGESTED_AT, 0.0)),
        media_type=str(values.get(payload.MEDIA_TYPE, "")),
        metadata=dict(values.get(payload.METADATA) or {}),
    )


class DocumentManifests:
    def __init__(self, vectors: VectorPeer) -> None:
        self._vectors = vectors
        # Tenants whose manifest collection is known to exist.
        self._ready: set[str] = set()

    async def write(self, tenant: str, collection: str, info: DocumentInfo) -> None:
        """Records ``info`` as the document's complete version; returns once durable."""
        if tenant not in self._ready:
            with contextlib.suppress(AlreadyExists):
                await self._vectors.create_collection(
                    tenant, payload.DOCUMENTS_COLLECTION, len(_VECTOR), _INDEXES
                )
            self._ready.add(tenant)
        point = PointWrite(
            payload.manifest_id(collection, info.id), _VECTOR, _manifest_payload(collection, info)
        )
        try:
            await self._vectors.upsert(tenant, payload.DOCUMENTS_COLLECTION, [point])
        except NotFound:
            self._ready.discard(tenant)  # deleted behind our back: created again next time
            raise

    async def content_hash(self, tenant: str, collection: str, document_id: str) -> str | None:
        """The version the document's manifest names; None when it has none."""
        point = payload.manifest_id(collection, document_id)
        try:
            found = await self._vectors.get_payloads(
                tenant, payload.DOCUMENTS_COLLECTION, [point], [payload.CONTENT_HASH]
            )
        except NotFound:
            return None
        return str(found[point].get(payload.CONTENT_HASH, "")) if point in found else None

    async def delete(self, tenant: str, collection: str, document_id: str) -> None:
        await self._delete(
            tenant,
            PayloadFilter(
                must=(
                    Match(payload.COLLECTION, collection),
                    Match(payload.DOCUMENT_ID, document_id),
                )
            ),
        )

    async def delete_collection(self, tenant: str, collection: str) -> None:
        await self._delete(tenant, _of_collection(collection))

    async def count(self, tenant: str, collection: str) -> int:
        try:
            return await self._vectors.count(
                tenant, payload.DOCUMENTS_COLLECTION, _of_collection(collection)
            )
        except NotFound:
            return 0

    async def page(
        self, tenant: str, collection: str, limit: int, offset: str | None
    ) -> DocumentPage:
        """Up to ``limit`` documents in manifest-id order from ``offset`` (a decoded token)."""
        try:
            scrolled = await self._vectors.scroll(
                tenant,
                payload.DOCUMENTS_COLLECTION,
                filter=_of_collection(collection),
                limit=limit,
                offset=offset,
            )
        except NotFound:
            return DocumentPage([], "")  # no manifests yet: the tenant never stored a document
        return DocumentPage(
            [_info_in(values) for _, values in scrolled.points],
            encode_token(scrolled.next_offset) if scrolled.next_offset is not None else "",
        )

    async def _delete(self, tenant: str, filter: PayloadFilter) -> None:
        with contextlib.suppress(NotFound):
            await self._vectors.delete_by_filter(tenant, payload.DOCUMENTS_COLLECTION, filter)
