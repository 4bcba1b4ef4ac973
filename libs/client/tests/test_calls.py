"""Every public method, run over both clients: the same request reaches the gateway and
the same typed result comes back (the descriptions in ragserve.client.calls)."""

from __future__ import annotations

import pytest
from clients import Driver
from scripted_gateway import Gateway

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.client import Permission
from ragserve.client.types import ApiKey, Collection, CreatedKey, Hit


def test_collections_and_documents(gateway: Gateway, kind: str) -> None:
    script = gateway.script
    with Driver(kind, gateway.address, "rsk_k") as client:
        created = client.create_collection("docs", "m2")
        got = client.get_collection("docs")
        listed = client.list_collections()
        assert client.delete_collection("docs") is None
        documents = client.list_documents("docs")
        deleted = client.delete_document("docs", "a.md", timeout=5)
    assert isinstance(created, Collection) and created.name == "docs"
    assert (got.documents, got.chunks, got.dimension) == (2, 7, 3)
    assert got.created_at is not None and got.created_at.timestamp() == 1_700_000_000
    assert [c.name for c in listed] == ["a", "b"]
    assert [(d.id, d.chunks, d.metadata) for d in documents] == [
        ("a.md", 2, {}),
        ("b.txt", 1, {"topic": "cats"}),
    ]
    assert deleted == 4
    assert script.requests_of("CreateCollection") == [
        pb.CreateCollectionRequest(name="docs", model="m2")
    ]
    assert script.requests_of("GetCollection") == [pb.GetCollectionRequest(name="docs")]
    assert [r.page_token for r in script.requests_of("ListCollections")] == ["", "p2"]
    assert script.requests_of("DeleteCollection") == [pb.DeleteCollectionRequest(name="docs")]
    assert script.requests_of("ListDocuments") == [
        pb.ListDocumentsRequest(collection="docs"),
        pb.ListDocumentsRequest(collection="docs", page_token="p2"),
    ]
    assert script.requests_of("DeleteDocument") == [
        pb.DeleteDocumentRequest(collection="docs", document_id="a.md")
    ]
    assert set(script.authorizations) == {"Bearer rsk_k"}
    assert len(script.authorizations) == len(script.requests)


def test_search_and_embed(gateway: Gateway, kind: str) -> None:
    with Driver(kind, gateway.address, "k") as client:
        hits = client.search("cats", ["c1", "c2"], top_k=3, score_threshold=0.25)
        client.search("dogs", "c1")
        vectors = client.embed(["ab", "c"], "mm")
    assert all(isinstance(h, Hit) for h in hits)
    assert [(h.document_id, h.chunk_index, h.score) for h in hits] == [("d.md", 1, 0.5)]
    first, second = gateway.script.requests_of("Search")
    assert (list(first.collections), first.query, first.top_k) == (["c1", "c2"], "cats", 3)
    assert first.score_threshold == pytest.approx(0.25)
    assert list(second.collections) == ["c1"] and second.top_k == 5
    assert not second.HasField("score_threshold")
    assert vectors == [[2.0, 0.5], [1.0, 0.5]]
    assert gateway.script.requests_of("Embed") == [pb.EmbedRequest(model="mm", texts=["ab", "c"])]


def test_api_keys(gateway: Gateway, kind: str) -> None:
    with Driver(kind, gateway.address, "k") as client:
        created = client.create_key("acme", ["read", Permission.WRITE], description="d", ttl_s=60)
        client.create_key("acme", [Permission.ADMIN])
        keys = client.list_keys("acme", include_revoked=True)
        revoked = client.revoke_key("k1")
    assert isinstance(created, CreatedKey) and created.secret == "rsk_secret"
    assert created.key.permissions == (Permission.READ, Permission.WRITE)
    assert created.key.expires_at is not None
    assert created.key.expires_at.timestamp() == 1_700_000_060
    with_ttl, without = gateway.script.requests_of("CreateApiKey")
    assert with_ttl.ttl.seconds == 60 and with_ttl.description == "d"
    assert not without.HasField("ttl")
    assert [k.id for k in keys] == ["k1", "k2"] and keys[1].permissions == (Permission.READ,)
    assert gateway.script.requests_of("ListApiKeys") == [
        pb.ListApiKeysRequest(tenant="acme", include_revoked=True),
        pb.ListApiKeysRequest(tenant="acme", include_revoked=True, page_token="p2"),
    ]
    assert isinstance(revoked, ApiKey) and revoked.id == "k1" and revoked.revoked_at is not None


def test_query_request(gateway: Gateway, kind: str) -> None:
    with Driver(kind, gateway.address, "k") as client:
        client.ask("q", ["a", "b"], top_k=2, answer="chat", score_threshold=0.5)
        client.events("q", "a", answer=None)
    chat, hits_only = gateway.script.requests_of("Query")
    assert (list(chat.collections), chat.top_k, chat.answer.generator) == (
        ["a", "b"],
        2,
        pb.GENERATOR_CHAT,
    )
    assert chat.score_threshold == pytest.approx(0.5)
    assert list(hits_only.collections) == ["a"] and not hits_only.HasField("answer")


def test_address_and_key_from_the_environment(
    gateway: Gateway, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGSERVE_GATEWAY_ADDR", gateway.address)
    monkeypatch.setenv("RAGSERVE_API_KEY", "rsk_from_env")
    with Driver(kind) as client:
        client.get_collection("docs")
    assert gateway.script.authorizations == ["Bearer rsk_from_env"]
