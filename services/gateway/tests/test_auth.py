"""The auth matrix on a real gateway process: every RPC by every kind of bad key.

No orchestrator or router runs: every refusal here happens at the edge, before any
work (a call that got past the edge would fail UNAVAILABLE instead). Another
tenant's collection (NOT_FOUND) needs the orchestrator: tests/gateway covers it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.gateway.keys import KeyHasher, Permission, new_record
from ragserve.testkit.gateway import (
    admin_key,
    as_client,
    bearer,
    create_key,
    gateway_env,
    start_gateway,
)
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

pytestmark = pytest.mark.slow

R, W, A = pb.PERMISSION_READ, pb.PERMISSION_WRITE, pb.PERMISSION_ADMIN


def _ingest(stub: pb_grpc.GatewayServiceStub, **kw: Any) -> Any:
    config = pb.IngestRequest(config=pb.IngestConfig(collection="docs"))
    return list(stub.Ingest(iter([config]), **kw))


def _query(stub: pb_grpc.GatewayServiceStub, **kw: Any) -> Any:
    return list(stub.Query(pb.QueryRequest(collections=["docs"], query="q"), **kw))


# RPC name → (call with a valid request, the permission it needs)
RPCS: dict[str, tuple[Callable[..., Any], int]] = {
    "CreateCollection": (lambda s, **kw: s.CreateCollection(pb.CreateCollectionRequest(name="docs"), **kw), W),
    "GetCollection": (lambda s, **kw: s.GetCollection(pb.GetCollectionRequest(name="docs"), **kw), R),
    "ListCollections": (lambda s, **kw: s.ListCollections(pb.ListCollectionsRequest(), **kw), R),
    "DeleteCollection": (lambda s, **kw: s.DeleteCollection(pb.DeleteCollectionRequest(name="docs"), **kw), W),
    "Ingest": (_ingest, W),
    "DeleteDocument": (lambda s, **kw: s.DeleteDocument(pb.DeleteDocumentRequest(collection="docs", document_id="d"), **kw), W),
    "ListDocuments": (lambda s, **kw: s.ListDocuments(pb.ListDocumentsRequest(collection="docs"), **kw), R),
    "Query": (_query, R),
    "Search": (lambda s, **kw: s.Search(pb.SearchRequest(collections=["docs"], query="q"), **kw), R),
    "Embed": (lambda s, **kw: s.Embed(pb.EmbedRequest(model="m", texts=["t"]), **kw), R),
    "CreateApiKey": (lambda s, **kw: s.CreateApiKey(pb.CreateApiKeyRequest(tenant="t", permissions=[R]), **kw), A),
    "ListApiKeys": (lambda s, **kw: s.ListApiKeys(pb.ListApiKeysRequest(), **kw), A),
    "RevokeApiKey": (lambda s, **kw: s.RevokeApiKey(pb.RevokeApiKeyRequest(id="0" * 16), **kw), A),
}  # fmt: skip

SERVICE_RPCS = [m.name for m in pb.DESCRIPTOR.services_by_name["GatewayService"].methods]


def test_the_matrix_covers_every_rpc() -> None:
    assert sorted(RPCS) == sorted(SERVICE_RPCS)


class Gateway:
    def __init__(self, process: ServiceProcess, state: Path) -> None:
        self.process = process
        self.state = state
        self.channel = grpc.insecure_channel(process.address)
        self.stub = pb_grpc.GatewayServiceStub(self.channel)
        self.admin = admin_key(state)
        # One key per permission set the matrix needs, and one revoked, one expired.
        self.keys = {
            "read": create_key(self.stub, self.admin, "acme", [R]).secret,
            "write": create_key(self.stub, self.admin, "acme", [W]).secret,
            "read-write": create_key(self.stub, self.admin, "acme", [R, W]).secret,
        }
        revoked = create_key(self.stub, self.admin, "acme", [R, W, A])
        as_client(
            lambda t: self.stub.RevokeApiKey(
                pb.RevokeApiKeyRequest(id=revoked.key.id), metadata=bearer(self.admin), timeout=t
            )
        )
        self.keys["revoked"] = revoked.secret
        self.keys["expired"] = self._write_expired_key()

    def _write_expired_key(self) -> str:
        """An expired key put straight into the file store (as one that outlived its ttl)."""
        record, key = new_record(
            KeyHasher(), "acme", frozenset(Permission), time.time() - 7200, ttl_s=3600
        )
        path = self.state / "api-keys.json"
        data = json.loads(path.read_text())
        data["keys"].append(record.to_json())
        path.write_text(json.dumps(data))
        return key


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    state = tmp_path_factory.mktemp("gateway")
    with RedisServer() as redis:
        process = start_gateway(gateway_env(state, redis.url))
        try:
            yield Gateway(process, state)
        finally:
            process.stop()


def _refusal(call: Callable[..., Any], stub: Any, metadata: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(stub, metadata=metadata, timeout=10)
    return raised.value  # type: ignore[return-value]


BAD_KEYS: dict[str, tuple[Callable[[Gateway], Any], str]] = {
    "no key": (lambda g: (), "missing API key: send the metadata 'authorization: Bearer <key>'"),
    "not bearer": (
        lambda g: (("authorization", "Basic dXNlcjpwYXNz"),),
        "malformed authorization: expected 'Bearer <key>'",
    ),
    "malformed": (
        lambda g: bearer("sk-not-ours"),
        "malformed API key: expected rsk_<16 hex digits>_<43 characters>",
    ),
    "unknown": (lambda g: bearer("rsk_0123456789abcdef_" + "A" * 43), "unknown API key"),
    "wrong secret": (
        lambda g: bearer(g.keys["read"][:-3] + ("AAA" if not g.keys["read"].endswith("AAA") else "BBB")),
        "unknown API key",
    ),
    "expired": (lambda g: bearer(g.keys["expired"]), "API key expired"),
    "revoked": (lambda g: bearer(g.keys["revoked"]), "API key revoked"),
}  # fmt: skip


@pytest.mark.parametrize("rpc", sorted(RPCS))
@pytest.mark.parametrize("bad", sorted(BAD_KEYS))
def test_a_bad_key_is_unauthenticated(gateway: Gateway, rpc: str, bad: str) -> None:
    metadata, message = BAD_KEYS[bad]
    error = _refusal(RPCS[rpc][0], gateway.stub, metadata(gateway))
    assert (error.code(), error.details()) == (grpc.StatusCode.UNAUTHENTICATED, message)
    # Even a refused call can be looked up: its trace id came first.
    trace_ids = [v for k, v in error.initial_metadata() if k == "x-trace-id"]  # type: ignore[attr-defined]
    assert len(trace_ids) == 1 and len(trace_ids[0]) == 32


@pytest.mark.parametrize("rpc", sorted(RPCS))
def test_a_missing_permission_is_permission_denied(gateway: Gateway, rpc: str) -> None:
    call, needed = RPCS[rpc]
    lacking = {R: "write", W: "read", A: "read-write"}[needed]
    error = _refusal(call, gateway.stub, bearer(gateway.keys[lacking]))
    name = {R: "read", W: "write", A: "admin"}[needed]
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details().startswith(f"this API key lacks the '{name}' permission")


@pytest.mark.parametrize("rpc", sorted(set(RPCS) - {"CreateApiKey", "ListApiKeys", "RevokeApiKey"}))
def test_a_good_key_passes_the_edge(gateway: Gateway, rpc: str) -> None:
    """With the right key the call gets past the edge and reaches the (absent) service."""
    error = _refusal(RPCS[rpc][0], gateway.stub, bearer(gateway.keys["read-write"]))
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
    assert "unavailable" in error.details()


def test_keys_are_stored_only_as_hashes(gateway: Gateway) -> None:
    stored = (gateway.state / "api-keys.json").read_text()
    for key in [gateway.admin, *gateway.keys.values()]:
        secret = key.split("_", 2)[2]
        assert key not in stored and secret not in stored
    assert (gateway.state / "api-keys.json").stat().st_mode & 0o777 == 0o600
    records = json.loads(stored)["keys"]
    assert {r["hash_algorithm"] for r in records} == {"sha256"}
    assert all(len(r["key_hash"]) == 64 for r in records)


def test_a_created_key_is_shown_once_and_listed_without_it(gateway: Gateway) -> None:
    created = create_key(gateway.stub, gateway.admin, "beta", [R], description="ci")
    assert created.secret.startswith(f"rsk_{created.key.id}_") and len(created.secret) == 64
    listed = gateway.stub.ListApiKeys(
        pb.ListApiKeysRequest(tenant="beta"), metadata=bearer(gateway.admin), timeout=10
    )
    assert [(k.id, k.tenant, list(k.permissions), k.description) for k in listed.keys] == [
        (created.key.id, "beta", [R], "ci")
    ]
    assert created.secret not in str(listed)


def test_key_listing_pages(gateway: Gateway) -> None:
    ids = {create_key(gateway.stub, gateway.admin, "paged", [R]).key.id for _ in range(5)}
    seen: list[str] = []
    token = ""
    while True:
        page = gateway.stub.ListApiKeys(
            pb.ListApiKeysRequest(tenant="paged", page_size=2, page_token=token),
            metadata=bearer(gateway.admin),
            timeout=10,
        )
        seen += [k.id for k in page.keys]
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(ids)


def test_revoking_an_unknown_key_is_not_found(gateway: Gateway) -> None:
    error = _refusal(
        lambda s, **kw: s.RevokeApiKey(pb.RevokeApiKeyRequest(id="f" * 16), **kw),
        gateway.stub,
        bearer(gateway.admin),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "no API key with id 'ffffffffffffffff'",
    )


def test_a_deadline_above_the_maximum_is_invalid(gateway: Gateway) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        gateway.stub.ListApiKeys(
            pb.ListApiKeysRequest(), metadata=bearer(gateway.admin), timeout=300
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    # gRPC rounds a deadline on the wire, and time passes before the server reads it.
    assert re.fullmatch(
        r"grpc-timeout: (299|300|301) s is longer than the maximum of 30 s for ListApiKeys",
        raised.value.details(),  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s, **kw: s.Embed(pb.EmbedRequest(model="m", texts=["t"] * 257), **kw),
            "texts: 257 texts; at most 256",
        ),
        (
            lambda s, **kw: s.Embed(pb.EmbedRequest(model="m", texts=["x" * 16385]), **kw),
            "texts[0]: 16385 characters; at most 16384",
        ),
        (
            lambda s, **kw: s.Search(pb.SearchRequest(collections=["docs"], query="q", top_k=101), **kw),
            "top_k: 101 is outside 0 to 100",
        ),
        (
            lambda s, **kw: s.Search(pb.SearchRequest(collections=["bad name"], query="q"), **kw),
            "collections[0]: 'bad name' is not a valid name: use 1 to 64 letters, digits, '-' or "
            "'_', starting with a letter or a digit",
        ),
        (
            lambda s, **kw: s.Search(
                pb.SearchRequest(
                    collections=["docs"],
                    query="q",
                    filter=pb.Filter(must=[pb.Condition(key="k", range=pb.Range())]),
                ),
                **kw,
            ),
            "filter.must[0].range: set at least one bound",
        ),
        (
            lambda s, **kw: list(s.Ingest(iter([pb.IngestRequest(document=pb.Document(sequence=1, id="d", text="x"))]), **kw)),
            "config: the first message of a stream is its config",
        ),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_before_any_work(
    gateway: Gateway, call: Callable[..., Any], message: str
) -> None:
    error = _refusal(call, gateway.stub, bearer(gateway.keys["read-write"]))
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, message)
