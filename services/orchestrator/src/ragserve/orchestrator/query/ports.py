"""What the pipeline needs from the world, as small interfaces (implemented over
gRPC clients by the service, and by in-memory objects in unit tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ragserve.orchestrator.query.model import (
    AnswerDelta,
    AnswerOptions,
    Citation,
    GeneratorKind,
    Hit,
    QueryEmbedding,
    SearchSpec,
)


class QueryEmbedder(Protocol):
    async def embed_query(
        self, tenant: str, model: str, text: str, priority: int
    ) -> QueryEmbedding:
        """The query's vector in ``model``'s space.

        Raises Unavailable naming the model when no provider can embed it."""
        ...


class CollectionSearcher(Protocol):
    async def search(self, tenant: str, collection: str, spec: SearchSpec) -> list[Hit]:
        """Best hits first; raises NotFound naming a collection that does not exist."""
        ...


class CollectionModels(Protocol):
    async def model_of(self, tenant: str, collection: str) -> str:
        """The embedding model a collection is bound to; NotFound naming it if none."""
        ...


@dataclass(frozen=True)
class GenerationUsage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class AnswerTruncated:
    """The answer stopped at its token limit."""


AnswerPiece = AnswerDelta | Citation | GenerationUsage | AnswerTruncated


class AnswerGenerator(Protocol):
    """Turns the question and the hits it was answered from into an answer stream.

    Citations index ``hits`` (the hits event's order) and refer to answer character
    offsets of the text streamed so far."""

    kind: GeneratorKind

    def generate(
        self, question: str, hits: Sequence[Hit], options: AnswerOptions
    ) -> AsyncIterator[AnswerPiece]: ...


class GeneratorFailed(Exception):
    """A generator's backend failed (unreachable, an error status, a malformed stream)."""

    def __init__(self, kind: GeneratorKind, description: str, reason: str) -> None:
        super().__init__(f"{description} failed: {reason}")
        self.kind = kind
        self.reason = reason
