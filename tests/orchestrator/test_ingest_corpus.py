"""The project's test corpus (30 documents in four media types) through Ingest: every
document stored with its offsets, pages and heading paths, and every known query finds its
document in the top 3 by plain dense search over what was ingested."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from orchestrator_suite import MODEL, TENANT, Suite, create_collection, requests_of

from ragserve.api.common.v1 import common_pb2
from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc
from ragserve.api.retrieval.v1 import retrieval_pb2 as rpb
from ragserve.api.retrieval.v1 import retrieval_pb2_grpc

pytestmark = pytest.mark.slow

CORPUS = (
    Path(__file__).resolve().parents[2] / "services" / "orchestrator" / "tests" / "data" / "corpus"
)
MEDIA_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".html": "text/html",
    ".pdf": "application/pdf",
}


def corpus() -> list[pb.Document]:
    documents = []
    for path in sorted(CORPUS.iterdir()):
        if path.suffix in MEDIA_TYPES and path.name != "README.md":
            documents.append(
                pb.Document(
                    id=path.name, data=path.read_bytes(), media_type=MEDIA_TYPES[path.suffix]
                )
            )
    return documents


async def _chunks_of(
    retrieval: retrieval_pb2_grpc.RetrievalServiceStub, document_id: str
) -> list[dict[str, Any]]:
    """Every chunk payload of one document (an exact search filtered to it)."""
    query = rpb.SearchQuery(
        vector=[1.0] + [0.0] * 383,
        limit=1000,
        filter=common_pb2.Filter(
            must=[
                common_pb2.Condition(
                    key="document_id", match=common_pb2.MatchValue(keyword=document_id)
                )
            ]
        ),
        params=rpb.SearchParams(exact=True),
    )
    response = await retrieval.Search(
        rpb.SearchRequest(tenant=TENANT, collection="corpus", query=query), timeout=30
    )
    return sorted(
        (json_format.MessageToDict(hit.payload) for hit in response.hits),
        key=lambda p: p["chunk_index"],
    )


@pytest.fixture
async def stub(suite: Suite) -> AsyncIterator[orchestrator_pb2_grpc.OrchestratorServiceStub]:
    async with suite.channel() as channel:
        yield orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
    suite.orchestrator.check_alive()


async def test_the_corpus_is_ingested_whole_and_every_query_finds_its_document(
    suite: Suite, stub: orchestrator_pb2_grpc.OrchestratorServiceStub
) -> None:
    documents = corpus()
    assert len(documents) == 30
    await create_collection(stub, "corpus")
    numbered = list(enumerate(documents, start=1))
    acks = {a.sequence: a async for a in stub.Ingest(requests_of("corpus", numbered), timeout=300)}
    assert sorted(acks) == list(range(1, 31))
    assert {a.status for a in acks.values()} == {pb.INGEST_STATUS_STORED}, [
        a for a in acks.values() if a.status != pb.INGEST_STATUS_STORED
    ]

    async with suite.retrieval_channel() as channel:
        retrieval = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        for ack in acks.values():
            chunks = await _chunks_of(retrieval, ack.document_id)
            assert [c["chunk_index"] for c in chunks] == list(range(ack.chunks))
            assert {c["chunk_count"] for c in chunks} == {ack.chunks}
            suffix = Path(ack.document_id).suffix
            for chunk in chunks:
                assert 0 <= chunk["start"] < chunk["end"]
                assert chunk["end"] - chunk["start"] == len(chunk["text"])
                assert chunk["media_type"] == MEDIA_TYPES[suffix]
                if suffix == ".pdf":
                    assert chunk["page"] >= 1
                else:
                    assert chunk["page"] == 0
            if suffix in (".md", ".html"):
                assert any(c["heading_path"] for c in chunks), ack.document_id

        queries = json.loads((CORPUS / "queries.json").read_text())
        async with grpc.aio.insecure_channel(suite.router.address) as router_channel:
            router = embedding_pb2_grpc.EmbeddingRouterServiceStub(router_channel)
            embedded = await router.Embed(
                embedding_pb2.EmbedRequest(
                    tenant=TENANT, model=MODEL, texts=[q["query"] for q in queries]
                ),
                timeout=60,
            )
        misses = []
        for query, embedding in zip(queries, embedded.embeddings, strict=True):
            response = await retrieval.Search(
                rpb.SearchRequest(
                    tenant=TENANT,
                    collection="corpus",
                    query=rpb.SearchQuery(vector=embedding.vector, limit=10),
                ),
                timeout=30,
            )
            top: list[str] = []
            for hit in response.hits:
                document = hit.payload.fields["document_id"].string_value
                if document not in top:
                    top.append(document)
            if query["document"] not in top[:3]:
                misses.append((query["query"], query["document"], top[:3]))
        assert misses == []
