"""The orchestrator's core: collections, ingest and document operations over the peers.

No gRPC here: the servicer converts protos to the domain values of ``model`` and calls
these methods; errors are ``ragserve.errors`` exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from ragserve.errors import NotFound
from ragserve.orchestrator import validation
from ragserve.orchestrator.collections import Collections, not_found
from ragserve.orchestrator.document_store import DocumentStore
from ragserve.orchestrator.ingest import IngestLimits, IngestPipeline
from ragserve.orchestrator.manifests import DocumentManifests, decode_token
from ragserve.orchestrator.metrics import IngestMetrics
from ragserve.orchestrator.model import (
    Ack,
    CollectionView,
    DocumentPage,
    IndexedField,
    IngestConfig,
    IngestItem,
)
from ragserve.orchestrator.peers import EmbeddingPeer, VectorPeer
from ragserve.orchestrator.tokenizer_cache import TokenizerCache


class OrchestratorCore:
    def __init__(
        self,
        vectors: VectorPeer,
        embedding: EmbeddingPeer,
        *,
        limits: IngestLimits,
        tokenizer_ttl_s: float,
        metrics: IngestMetrics,
    ) -> None:
        self.vectors = vectors
        self.embedding = embedding
        self.manifests = DocumentManifests(vectors)
        self.collections = Collections(vectors, embedding, manifests=self.manifests)
        self.tokenizers = TokenizerCache(embedding, tokenizer_ttl_s)
        self.ingest_pipeline = IngestPipeline(
            vectors,
            embedding,
            self.collections,
            self.tokenizers,
            limits,
            metrics,
            manifests=self.manifests,
        )

    async def create_collection(
        self, tenant: str, name: str, model: str, indexed: Sequence[IndexedField]
    ) -> CollectionView:
        return await self.collections.create(tenant, name, model, indexed)

    async def get_collection(self, tenant: str, name: str) -> CollectionView:
        return await self.collections.get(tenant, name)

    async def list_collections(self, tenant: str) -> list[CollectionView]:
        return await self.collections.list(tenant)

    async def delete_collection(self, tenant: str, name: str) -> None:
        await self.collections.delete(tenant, name)

    def ingest(self, config: IngestConfig, items: AsyncIterator[IngestItem]) -> AsyncIterator[Ack]:
        return self.ingest_pipeline.run(config, items)

    async def delete_document(self, tenant: str, collection: str, document_id: str) -> int:
        record = await self.collections.resolve(tenant, collection, "collection")
        validation.document_id(document_id)
        store = DocumentStore(self.vectors, self.manifests, tenant, record.name)
        try:
            return await store.delete(document_id)
        except NotFound:
            raise not_found(collection) from None

    async def list_documents(
        self, tenant: str, collection: str, page_size: int, page_token: str
    ) -> DocumentPage:
        record = await self.collections.resolve(tenant, collection, "collection")
        limit = validation.page_size(page_size)
        offset = decode_token(page_token) if page_token else None
        return await self.manifests.page(tenant, record.name, limit, offset)
