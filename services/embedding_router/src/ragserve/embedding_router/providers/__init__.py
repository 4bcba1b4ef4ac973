"""Embedding providers: the interface the router calls, and its inference / OpenAI clients."""

from ragserve.embedding_router.providers.base import (
    EmbeddingClient,
    EmbeddingReply,
    ProviderError,
)

__all__ = ["EmbeddingClient", "EmbeddingReply", "ProviderError"]
