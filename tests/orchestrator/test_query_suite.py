"""Query through real processes: inference, Redis, the embedding router, retrieval on
Qdrant Edge and the orchestrator, a real OTLP receiver and a real OpenAI-compatible chat
server (aiohttp, streaming SSE). Documents go in through the orchestrator's Ingest.

Waits are on events (streams, health, trace exports) or bounded polls of metrics.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from orchestrator_suite import wait_health

from ragserve.api.common.v1 import common_pb2
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc as pb_grpc
from ragserve.api.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from ragserve.orchestrator.documents.parsing import parse_document
from ragserve.testkit.chat_server import ChatServer
from ragserve.testkit.otlp import OtlpReceiver, ReceivedSpan
from ragserve.testkit.ports import free_port
from ragserve.testkit.suite import DEFAULT_MODEL, Suite, start_suite

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "services" / "orchestrator" / "tests" / "data" / "corpus"
MEDIA_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".html": "text/html",
    ".pdf": "application/pdf",
}
TOKENIZER = ROOT / "models" / DEFAULT_MODEL / "tokenizer.json"
TENANT = "acme"
DEAD_MODEL = "dead-model"
CHAT_KEY_ENV = "RAGSERVE_TEST_CHAT_KEY"
QUERY_METHOD = "/ragserve.api.orchestrator.v1.OrchestratorService/Query"

# A few documents of our own, one per media type where text makes sense here.
DOCUMENTS: dict[str, tuple[str, str]] = {
    "volcanoes": (
        "text/markdown",
        "# Volcanoes\n\n## Basalt\n\nBasalt forms when lava cools quickly at the surface. "
        "It is dark, dense and fine grained.\n\n## Eruptions\n\nExplosive eruptions happen "
        "when gas-rich magma fragments in the vent.\n",
    ),
    "bread": (
        "text/plain",
        "Sourdough bread rises because wild yeast and lactic acid bacteria ferment the dough. "
        "Bakers feed the starter with flour and water every day.\n\nA hot oven gives the loaf "
        "its crust.",
    ),
    "tides": (
        "text/html",
        "<html><body><h1>Tides</h1><p>Ocean tides are caused by the gravitational pull of "
        "the moon and the sun.</p><h2>Spring tides</h2><p>Spring tides are the highest tides "
        "and come at new and full moon.</p></body></html>",
    ),
}


def _provider(provider_id: str, model: str, endpoint: str) -> dict[str, Any]:
    return {
        "id": provider_id,
        "model": model,
        "kind": "inference",
        "endpoints": [endpoint],
        "remote_model": DEFAULT_MODEL,
        "input_name": "text",
        "output_name": "embedding",
        "max_batch": 16,
    }


def _router_config(inference: str, dead_port: int) -> dict[str, Any]:
    models = [
        {"id": m, "version": "1", "dimension": 384, "tokenizer": str(TOKENIZER)}
        for m in (DEFAULT_MODEL, DEAD_MODEL)
    ]
    return {
        "models": models,
        "providers": [
            _provider("local", DEFAULT_MODEL, inference),
            # Nothing listens there: the model cannot be embedded.
            _provider("refuses", DEAD_MODEL, f"127.0.0.1:{dead_port}"),
        ],
        "routing": {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "max_attempts": 2},
    }


@dataclass
class World:
    suite: Suite
    receiver: OtlpReceiver
    chat: ChatServer
    extracted: dict[str, str]
    corpus_text: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("query-suite")
    dead_port = free_port()
    with OtlpReceiver() as receiver, ChatServer(api_key="chat-secret") as chat:

        def router_env(inference: str) -> Mapping[str, str]:
            config = directory / "providers.json"
            config.write_text(json.dumps(_router_config(inference, dead_port)))
            return {"RAGSERVE_EMBEDDING_ROUTER_PROVIDERS_FILE": str(config)}

        os.environ[CHAT_KEY_ENV] = "chat-secret"
        suite = start_suite(
            directory / "retrieval",
            common_env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_BSP_SCHEDULE_DELAY": "100",
                CHAT_KEY_ENV: "chat-secret",
            },
            router_env=router_env,
            orchestrator_env={
                # Bindings stay cached for the whole module: the tests that freeze
                # retrieval's engine warm them first, and a binding that expired meanwhile
                # (a slow machine) would be read from the frozen engine, not the search.
                "RAGSERVE_ORCHESTRATOR_COLLECTION_BINDING_TTL_S": "3600",
                "RAGSERVE_ORCHESTRATOR_CHAT_URL": chat.url,
                "RAGSERVE_ORCHESTRATOR_CHAT_MODEL": "tiny-chat",
                "RAGSERVE_ORCHESTRATOR_CHAT_API_KEY_ENV": CHAT_KEY_ENV,
            },
        )
        try:
            extracted, corpus_text = asyncio.run(_seed(suite))
            yield World(suite, receiver, chat, extracted, corpus_text)
        finally:
            suite.stop()


def corpus_files() -> dict[str, tuple[str, bytes]]:
    """The project's corpus: file name → (media type, content)."""
    return {
        path.name: (MEDIA_TYPES[path.suffix], path.read_bytes())
        for path in sorted(CORPUS.iterdir())
        if path.suffix in MEDIA_TYPES and path.name != "README.md"
    }


async def _seed(suite: Suite) -> tuple[dict[str, str], dict[str, str]]:
    async with grpc.aio.insecure_channel(suite.orchestrator.address) as channel:
        stub = pb_grpc.OrchestratorServiceStub(channel)
        for name, model in (
            ("docs", DEFAULT_MODEL),
            ("more", DEFAULT_MODEL),
            ("flaky", DEFAULT_MODEL),
            ("dead", DEAD_MODEL),
            ("corpus", DEFAULT_MODEL),
        ):
            await stub.CreateCollection(
                pb.CreateCollectionRequest(tenant=TENANT, name=name, model=model)
            )
        acks = await ingest(stub, "docs", DOCUMENTS)
        assert all(a.status == pb.INGEST_STATUS_STORED for a in acks), acks
        acks = await ingest(stub, "more", {"bread-2": DOCUMENTS["bread"]})
        assert all(a.status == pb.INGEST_STATUS_STORED for a in acks), acks
        files = corpus_files()
        acks = await ingest(stub, "corpus", files)
        assert len(acks) == len(files) and all(a.status == pb.INGEST_STATUS_STORED for a in acks), (
            acks
        )
    # "flaky" stays registered for the model, but its stored collection no longer fits it:
    # every search of it fails (not a missing collection: a broken one).
    async with grpc.aio.insecure_channel(suite.retrieval.address) as channel:
        retrieval = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        await retrieval.DeleteCollection(
            retrieval_pb2.DeleteCollectionRequest(tenant=TENANT, name="flaky")
        )
        await retrieval.CreateCollection(
            retrieval_pb2.CreateCollectionRequest(
                tenant=TENANT,
                name="flaky",
                config=retrieval_pb2.CollectionConfig(
                    dimension=8, distance=retrieval_pb2.DISTANCE_COSINE
                ),
            )
        )
    extracted = {
        name: parse_document(content.encode(), media_type).text
        for name, (media_type, content) in DOCUMENTS.items()
    }
    corpus_text = {
        name: parse_document(content, media_type).text
        for name, (media_type, content) in corpus_files().items()
    }
    return extracted, corpus_text


async def ingest(
    stub: pb_grpc.OrchestratorServiceStub,
    collection: str,
    documents: Mapping[str, tuple[str, str | bytes]],
) -> list[Any]:
    def document(name: str, media_type: str, content: str | bytes) -> pb.Document:
        if isinstance(content, bytes):
            return pb.Document(id=name, data=content, media_type=media_type)
        return pb.Document(id=name, text=content, media_type=media_type)

    def requests() -> Iterator[Any]:
        yield pb.IngestRequest(config=pb.IngestConfig(tenant=TENANT, collection=collection))
        for sequence, (name, (media_type, content)) in enumerate(documents.items(), start=1):
            yield pb.IngestRequest(
                item=pb.IngestItem(sequence=sequence, document=document(name, media_type, content))
            )

    return [ack async for ack in stub.Ingest(requests(), timeout=300)]


@pytest.fixture
async def stub(world: World) -> AsyncIterator[pb_grpc.OrchestratorServiceStub]:
    world.suite.check_alive()
    async with grpc.aio.insecure_channel(world.suite.orchestrator.address) as channel:
        yield pb_grpc.OrchestratorServiceStub(channel)
    world.suite.check_alive()


def request(query: str, *collections: str, **fields: Any) -> pb.QueryRequest:
    return pb.QueryRequest(
        tenant=TENANT, collections=list(collections or ("docs",)), query=query, **fields
    )


async def query(
    stub: pb_grpc.OrchestratorServiceStub, message: pb.QueryRequest, deadline_s: float = 60
) -> tuple[list[Any], str]:
    """Every event and the x-trace-id initial metadata."""
    call = stub.Query(message, timeout=deadline_s)
    metadata = dict(await call.initial_metadata())
    events = [event async for event in call]
    return events, str(metadata.get("x-trace-id", ""))


def kinds(events: list[Any]) -> list[str]:
    return [str(e.WhichOneof("event")) for e in events]


async def expect_error(
    stub: pb_grpc.OrchestratorServiceStub,
    message: pb.QueryRequest,
    code: grpc.StatusCode,
    details: str,
    deadline_s: float = 60,
) -> list[Any]:
    call = stub.Query(message, timeout=deadline_s)
    received: list[Any] = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for event in call:
            received.append(event)
    assert (caught.value.code(), caught.value.details()) == (code, details)
    # The trace id comes first, even on a failed stream.
    assert kinds(received)[:1] == ["start"]
    return received


# ---- answers ----


async def test_extractive_answer_cites_the_right_chunk_and_offsets(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    events, trace_id = await query(
        stub, request("How does basalt form?", answer=pb.AnswerOptions())
    )
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
    assert kinds(events)[0] == "start" and events[0].start.trace_id == trace_id
    assert kinds(events)[1] == "hits" and kinds(events)[-1] == "done"
    hits = events[1].hits.hits
    assert hits[0].document_id == "volcanoes"
    for hit in hits:
        text = world.extracted[hit.document_id]
        assert text[hit.start : hit.end] == hit.text
    top = hits[0]
    assert top.media_type == "text/markdown" and list(top.heading_path)[:1] == ["Volcanoes"]
    answer = "".join(e.answer.text_delta for e in events if e.WhichOneof("event") == "answer")
    citations = [e.citation for e in events if e.WhichOneof("event") == "citation"]
    assert "Basalt forms when lava cools quickly at the surface." in answer
    assert citations
    for citation in citations:
        hit = hits[citation.hit_index]
        source = world.extracted[hit.document_id][citation.source_start : citation.source_end]
        assert hit.start <= citation.source_start < citation.source_end <= hit.end
        assert answer[citation.answer_start : citation.answer_end] == source
    done = events[-1].done
    stages = [pb.Stage.Name(t.stage) for t in done.timings]
    assert stages == ["STAGE_EMBED", "STAGE_SEARCH", "STAGE_MERGE", "STAGE_GENERATE"]
    assert done.timings[1].collection == "docs"
    assert done.generator == pb.GENERATOR_EXTRACTIVE and done.total_ms > 0


async def test_corpus_queries_find_their_document_and_cite_it(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    cases = json.loads((CORPUS / "queries.json").read_text())
    misses = []
    for case in cases:
        events, _ = await query(
            stub, request(case["query"], "corpus", top_k=3, answer=pb.AnswerOptions())
        )
        hits = events[1].hits.hits
        for hit in hits:
            assert world.corpus_text[hit.document_id][hit.start : hit.end] == hit.text
        if case["document"] not in [h.document_id for h in hits]:
            misses.append((case["query"], [h.document_id for h in hits]))
            continue
        answer = "".join(e.answer.text_delta for e in events if e.WhichOneof("event") == "answer")
        citations = [e.citation for e in events if e.WhichOneof("event") == "citation"]
        for citation in citations:
            hit = hits[citation.hit_index]
            text = world.corpus_text[hit.document_id]
            assert hit.start <= citation.source_start < citation.source_end <= hit.end
            quoted = text[citation.source_start : citation.source_end]
            assert answer[citation.answer_start : citation.answer_end] == quoted
        cited = [hits[c.hit_index] for c in citations]
        if not any(h.document_id == case["document"] and case["expected"] in h.text for h in cited):
            misses.append((case["query"], [(h.document_id, h.chunk_index) for h in cited]))
    assert not misses, misses


async def test_hits_only_paging_threshold_and_mmr(stub: pb_grpc.OrchestratorServiceStub) -> None:
    everything, _ = await query(stub, request("bread and tides", "docs", "more", top_k=20))
    ranked = list(everything[1].hits.hits)
    assert len({(h.collection, h.document_id, h.chunk_index) for h in ranked}) == len(ranked)
    assert [h.score for h in ranked] == sorted((h.score for h in ranked), reverse=True)
    assert {h.collection for h in ranked} == {"docs", "more"}
    assert kinds(everything) == ["start", "hits", "done"]
    paged, _ = await query(stub, request("bread and tides", "docs", "more", top_k=2, offset=1))
    assert [h.text for h in paged[1].hits.hits] == [h.text for h in ranked[1:3]]
    # Just below the second hit's score (scores are float32 in transit).
    cut = ranked[1].score - 1e-4
    kept, _ = await query(
        stub, request("bread and tides", "docs", "more", top_k=20, score_threshold=cut)
    )
    assert [h.text for h in kept[1].hits.hits] == [h.text for h in ranked if h.score >= cut]
    diverse, _ = await query(
        stub,
        request("bread and tides", "docs", "more", top_k=2, mmr=pb.MmrOptions(diversity=0.9)),
    )
    # The same bread text is in both collections: MMR does not return it twice.
    assert len({h.text for h in diverse[1].hits.hits}) == 2
    assert "STAGE_MMR" in [pb.Stage.Name(t.stage) for t in diverse[-1].done.timings]


async def test_chat_generator_streams_cites_and_reports_usage(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    world.chat.behaviour = "answer"
    answer_options = pb.AnswerOptions(generator=pb.GENERATOR_CHAT)
    events, _ = await query(stub, request("What causes tides?", answer=answer_options))
    hits = events[1].hits.hits
    deltas = [e.answer.text_delta for e in events if e.WhichOneof("event") == "answer"]
    answer = "".join(deltas)
    assert len(deltas) > 3 and answer.endswith("[1].")
    assert answer.startswith("From the context: ")
    citations = [e.citation for e in events if e.WhichOneof("event") == "citation"]
    assert [c.hit_index for c in citations] == [0]
    assert (citations[0].source_start, citations[0].source_end) == (hits[0].start, hits[0].end)
    assert (
        kinds(events).index("citation")
        > max(i for i, k in enumerate(kinds(events)) if k == "answer") - 2
    )  # sent once the marker has streamed
    done = events[-1].done
    assert done.generator == pb.GENERATOR_CHAT
    assert done.usage.prompt_tokens > 0 and done.usage.completion_tokens == len(deltas)
    sent = world.chat.requests[-1]
    assert sent.authorization == "Bearer chat-secret"
    assert sent.body["model"] == "tiny-chat" and sent.body["stream"] is True
    assert "[1] " in sent.body["messages"][1]["content"]


@pytest.mark.parametrize("behaviour", ["error", "cut"])
async def test_a_failing_chat_endpoint_falls_back_to_extractive(
    world: World, stub: pb_grpc.OrchestratorServiceStub, behaviour: str
) -> None:
    world.chat.behaviour = behaviour  # type: ignore[assignment]
    try:
        answer_options = pb.AnswerOptions(generator=pb.GENERATOR_CHAT)
        events, _ = await query(stub, request("How does basalt form?", answer=answer_options))
    finally:
        world.chat.behaviour = "answer"
    assert events[1].hits.hits[0].document_id == "volcanoes"
    warnings = [e.warning for e in events if e.WhichOneof("event") == "warning"]
    assert len(warnings) == 1
    warning = warnings[0]
    assert warning.code == pb.WARNING_CODE_GENERATOR_FAILED and warning.subject == "chat"
    assert warning.message.startswith(f"the chat generator (tiny-chat at {world.chat.url}) failed")
    if behaviour == "error":
        # Nothing was streamed yet: the extractive answer replaces it.
        assert kinds(events)[:3] == ["start", "hits", "warning"]
        assert "HTTP 500" in warning.message
        assert warning.message.endswith("answered extractively instead")
        assert events[-1].done.generator == pb.GENERATOR_EXTRACTIVE
        assert "answer" in kinds(events) and "citation" in kinds(events)
    else:
        # Part of the chat answer went out: it is cut short, not mixed with another.
        assert kinds(events)[2] == "answer"
        assert warning.message.endswith("the answer is cut short")
        assert events[-1].done.generator == pb.GENERATOR_CHAT


# ---- errors and degradation ----


async def test_missing_collection_is_not_found(stub: pb_grpc.OrchestratorServiceStub) -> None:
    for allow_partial in (False, True):
        await expect_error(
            stub,
            request("q", "docs", "nope", allow_partial_results=allow_partial),
            grpc.StatusCode.NOT_FOUND,
            "collection 'nope' does not exist",
        )


async def test_a_failing_collection_warns_only_when_partial_results_are_allowed(
    stub: pb_grpc.OrchestratorServiceStub,
) -> None:
    events, _ = await query(
        stub, request("How does basalt form?", "docs", "flaky", allow_partial_results=True)
    )
    assert kinds(events)[:3] == ["start", "warning", "hits"]
    warning = events[1].warning
    assert (warning.code, warning.subject) == (pb.WARNING_CODE_COLLECTION_FAILED, "flaky")
    assert warning.message.startswith("collection 'flaky' left out: collection 'flaky' cannot")
    assert {h.collection for h in events[2].hits.hits} == {"docs"}
    await expect_error(
        stub,
        request("How does basalt form?", "docs", "flaky"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "collection 'flaky' cannot be searched: retrieval: query.vector: has 384 dimensions, "
        "collection 'flaky' expects 8",
    )


async def test_collections_of_different_models(stub: pb_grpc.OrchestratorServiceStub) -> None:
    await expect_error(
        stub,
        request("q", "docs", "dead"),
        grpc.StatusCode.FAILED_PRECONDITION,
        f"the collections must all use one embedding model; 'docs' uses '{DEFAULT_MODEL}', "
        f"'dead' uses '{DEAD_MODEL}'",
    )


async def test_router_unable_to_embed_is_unavailable_naming_the_model(
    stub: pb_grpc.OrchestratorServiceStub,
) -> None:
    call = stub.Query(request("anything at all", "dead"), timeout=60)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in call:
            pass
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert caught.value.details().startswith(
        f"cannot embed the query with model '{DEAD_MODEL}': embedding router: "
    )


LONG = "x" * 70
BAD_INPUT: list[tuple[Callable[[pb.QueryRequest], None], str]] = [
    (lambda r: setattr(r, "tenant", ""), "tenant: '' is not a valid tenant"),
    (lambda r: r.ClearField("collections"), "collections: name at least one collection"),
    (
        lambda r: r.collections.extend([f"c{i}" for i in range(16)]),
        "collections: 17 collections, the limit is 16",
    ),
    (lambda r: r.collections.append("docs"), "collections[1]: 'docs' is named twice"),
    (
        lambda r: r.collections.append(LONG),
        f"collections[1]: '{LONG[:64]}'... (70 characters) is not a valid collection name",
    ),
    (lambda r: setattr(r, "query", " "), "query: must not be empty"),
    (lambda r: setattr(r, "query", "q" * 8193), "query: is 8193 characters, the limit is 8192"),
    (lambda r: setattr(r, "top_k", 101), "top_k: must be 1 to 100, got 101"),
    (lambda r: setattr(r, "offset", 10001), "offset: must be 0 to 10000, got 10001"),
    (lambda r: setattr(r, "score_threshold", 1.5), "score_threshold: must be -1 to 1, got 1.5"),
    (
        lambda r: r.mmr.CopyFrom(pb.MmrOptions(diversity=2)),
        "mmr.diversity: must be 0 to 1, got 2.0",
    ),
    (
        lambda r: r.mmr.CopyFrom(pb.MmrOptions(candidates=2)),
        "mmr.candidates: must be 5 to 1000, got 2",
    ),
    (
        lambda r: r.mmr.CopyFrom(pb.MmrOptions(candidates=1001)),
        "mmr.candidates: must be 5 to 1000, got 1001",
    ),
    (
        lambda r: r.answer.CopyFrom(pb.AnswerOptions(generator=7)),
        "answer.generator: unknown value 7",
    ),
    (
        lambda r: r.answer.CopyFrom(pb.AnswerOptions(max_answer_tokens=4097)),
        "answer.max_answer_tokens: must be 1 to 4096, got 4097",
    ),
    (
        lambda r: r.answer.CopyFrom(pb.AnswerOptions(max_context_chunks=21)),
        "answer.max_context_chunks: must be 1 to 20, got 21",
    ),
    (lambda r: setattr(r, "priority", 9), "priority: unknown value 9"),
    (
        lambda r: r.filter.must.extend(
            [common_pb2.Condition(key="a b", match=common_pb2.MatchValue(keyword="x"))]
        ),
        "filter.must[0].key: 'a b' is not a metadata key",
    ),
    (
        lambda r: r.filter.must.extend(
            [common_pb2.Condition(key="k", match=common_pb2.MatchValue(keyword="x"))] * 65
        ),
        "filter: 65 conditions, the limit is 64",
    ),
    (
        lambda r: r.filter.must.extend([common_pb2.Condition(key="k")]),
        "filter.must[0]: set match, match_any, range or nested",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_INPUT)
async def test_bad_input_is_invalid_argument_naming_the_field(
    stub: pb_grpc.OrchestratorServiceStub, mutate: Callable[[pb.QueryRequest], None], message: str
) -> None:
    bad = request("fine")
    mutate(bad)
    call = stub.Query(bad, timeout=30)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in call:
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(message)


async def test_a_filter_on_metadata_narrows_the_hits(
    stub: pb_grpc.OrchestratorServiceStub,
) -> None:
    match_nothing = common_pb2.Filter(
        must=[common_pb2.Condition(key="lang", match=common_pb2.MatchValue(keyword="xx"))]
    )
    events, _ = await query(stub, request("bread", filter=match_nothing))
    assert kinds(events) == ["start", "hits", "done"] and not events[1].hits.hits


# ---- deadlines and cancellation reach the hops below ----


def scrape(process: Any) -> str:
    url = f"http://127.0.0.1:{process.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def poll(read: Callable[[], float], at_least: float, timeout_s: float = 30) -> float:
    """Bounded poll of a metric until it reaches ``at_least`` (its last value either way)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if value >= at_least or time.monotonic() > deadline:
            return value
        time.sleep(0.05)  # between scrapes of a poll bounded by the deadline above


def wait_for_metric(process: Any, name: str, at_least: float, **labels: str) -> float:
    """Bounded poll of a service's /metrics until ``name{labels}`` reaches ``at_least``."""
    return poll(lambda: metric(scrape(process), name, **labels), at_least)


# The deadline of a query that a frozen part makes hang: long enough for the query to
# reach that part on a loaded machine (it must get there to be ended there). Its length is
# not what the tests check; 1.5 s left a stall of the orchestrator no room.
QUERY_DEADLINE_S = 5.0


def embed_calls(world: World, code: str) -> float:
    return metric(
        scrape(world.suite.router), "grpc_server_handled_total", grpc_method="Embed", grpc_code=code
    )


def search_calls(world: World, code: str) -> float:
    return metric(
        scrape(world.suite.retrieval),
        "grpc_server_handled_total",
        grpc_method="Search",
        grpc_code=code,
    )


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process frozen (SIGSTOP): calls to it hang until it is thawed (SIGCONT)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def stopped(process: Any) -> Any:
    """A whole service frozen: its calls hang, its /metrics too."""
    return frozen(process.process.pid)


def engine_frozen(world: World) -> Any:
    """Retrieval's engine worker frozen, its gRPC server not: a Search is received and
    counted in flight (its handler awaits the engine's answer), and retrieval's /metrics
    still answers, so the test can see the call end on retrieval's side."""
    workers = world.suite.retrieval.spawned_children()
    assert len(workers) == 1, workers
    return frozen(workers[0])


@contextmanager
def chat_stalling(world: World) -> Iterator[None]:
    """The chat endpoint stalls every completion it gets until the block ends (then it
    answers again); ``stalled`` / ``disconnected`` are fresh for the block."""
    world.chat.behaviour = "stall"
    world.chat.disconnected.clear()
    world.chat.stalled.clear()
    try:
        yield
    finally:
        world.chat.behaviour = "answer"


async def searching(world: World, stub: pb_grpc.OrchestratorServiceStub, text: str) -> Any:
    """A Query of ``text`` whose retrieval Search is held in flight (the engine frozen by
    the caller), once retrieval counts it in flight."""
    call = stub.Query(request(text), timeout=60)
    assert (await call.read()).WhichOneof("event") == "start"
    in_flight = await asyncio.to_thread(
        wait_for_metric, world.suite.retrieval, "grpc_server_in_flight", 1, grpc_method="Search"
    )
    assert in_flight == 1
    return call


async def test_client_cancel_cancels_the_router_call(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    before = embed_calls(world, "CANCELLED")
    # A text never embedded before, with inference frozen: the router's call hangs.
    with stopped(world.suite.inference):
        call = stub.Query(request("does frozen inference answer?"), timeout=60)
        assert (await call.read()).WhichOneof("event") == "start"
        in_flight = await asyncio.to_thread(
            wait_for_metric, world.suite.router, "grpc_server_in_flight", 1, grpc_method="Embed"
        )
        assert in_flight == 1
        call.cancel()
        after = await asyncio.to_thread(
            wait_for_metric,
            world.suite.router,
            "grpc_server_handled_total",
            before + 1,
            grpc_method="Embed",
            grpc_code="CANCELLED",
        )
    assert after == before + 1


async def test_deadline_is_deadline_exceeded_and_reaches_the_router(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    def ended() -> float:
        return embed_calls(world, "DEADLINE_EXCEEDED") + embed_calls(world, "CANCELLED")

    before = ended()
    with stopped(world.suite.inference):
        # Long enough to reach the router on a loaded machine (a call that never got there
        # would end nothing there); it then hangs on the frozen inference.
        call = stub.Query(request("is anyone there while frozen?"), timeout=QUERY_DEADLINE_S)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # The router's call carried the propagated deadline and ended with it.
        assert await asyncio.to_thread(poll, ended, before + 1) == before + 1


async def test_client_cancel_cancels_the_chat_call(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    with chat_stalling(world):
        call = stub.Query(
            request("basalt", answer=pb.AnswerOptions(generator=pb.GENERATOR_CHAT)), timeout=60
        )
        assert await asyncio.to_thread(world.chat.stalled.wait, 30)
        call.cancel()
        assert await asyncio.to_thread(world.chat.disconnected.wait, 30)


async def test_client_cancel_cancels_the_retrieval_search(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    # Embedded and bound once first, so the only call left to hang is the search.
    await query(stub, request("why is basalt dark?"))
    before = search_calls(world, "CANCELLED")
    with engine_frozen(world):
        call = await searching(world, stub, "why is basalt dark?")
        call.cancel()
        after = await asyncio.to_thread(
            wait_for_metric,
            world.suite.retrieval,
            "grpc_server_handled_total",
            before + 1,
            grpc_method="Search",
            grpc_code="CANCELLED",
        )
        assert after == before + 1
        # Ended on retrieval's side while its engine is still frozen: by the cancellation.
        in_flight = metric(
            scrape(world.suite.retrieval), "grpc_server_in_flight", grpc_method="Search"
        )
        assert in_flight == 0


async def test_a_deadline_ends_a_query_stuck_in_retrieval(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    def ended() -> float:
        return search_calls(world, "DEADLINE_EXCEEDED") + search_calls(world, "CANCELLED")

    await query(stub, request("spring tides at full moon"))
    before = ended()
    with engine_frozen(world):
        started = time.monotonic()
        # Long enough to reach retrieval's search on a loaded machine; it then hangs there.
        late = stub.Query(request("spring tides at full moon"), timeout=QUERY_DEADLINE_S)
        events: list[Any] = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for event in late:
                events.append(event)
        elapsed = time.monotonic() - started
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert kinds(events) == ["start"]
        # Ended by the caller's deadline, not by the orchestrator's own peer timeout
        # (60 s); and the search it was waiting for ended with it on retrieval's side.
        assert elapsed < 30
        assert await asyncio.to_thread(poll, ended, before + 1) == before + 1


async def test_a_deadline_during_the_chat_answer_cancels_the_chat_call(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    with chat_stalling(world):
        # Long enough to reach the chat call on a loaded machine; it then stalls there.
        call = stub.Query(
            request("basalt", answer=pb.AnswerOptions(generator=pb.GENERATOR_CHAT)), timeout=10
        )
        events: list[Any] = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for event in call:
                events.append(event)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert world.chat.stalled.is_set()
        assert kinds(events) == ["start", "hits"]
        # The stalled completion's connection was closed by the orchestrator.
        assert await asyncio.to_thread(world.chat.disconnected.wait, 30)


# ---- one trace per query ----


def _children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [
        s for s in spans if s.parent_span_id == parent.span_id and s.trace_id == parent.trace_id
    ]


def _descendants(spans: list[ReceivedSpan], root: ReceivedSpan) -> list[ReceivedSpan]:
    found: list[ReceivedSpan] = []
    frontier = [root]
    while frontier:
        span = frontier.pop()
        children = _children(spans, span)
        found.extend(children)
        frontier.extend(children)
    return found


def _reaches_inference(spans: list[ReceivedSpan], trace_spans: list[ReceivedSpan]) -> bool:
    """Inference is in the query's own trace, or a batch span that links to one of the
    query's spans leads (in its own trace) to inference."""
    if any(s.service == "ragserve-inference" for s in trace_spans):
        return True
    ours = {(s.trace_id, s.span_id) for s in trace_spans}
    linked_traces = {s.trace_id for s in spans if ours & set(s.links)}
    return any(s.service == "ragserve-inference" for s in spans if s.trace_id in linked_traces)


def _check_trace(spans: list[ReceivedSpan], trace_id: str) -> bool:
    roots = [
        s
        for s in spans
        if s.trace_id == trace_id
        and s.name == QUERY_METHOD
        and s.service == "ragserve-orchestrator"
    ]
    if len(roots) != 1:
        return False
    below = _descendants(spans, roots[0])
    by_id = {s.span_id: s for s in below}

    def served_by(service: str, method: str) -> bool:
        servers = [s for s in below if s.service == service and s.name.endswith("/" + method)]
        return any(
            (parent := by_id.get(s.parent_span_id)) is not None
            and parent.service == "ragserve-orchestrator"
            and parent.name == s.name
            for s in servers
        )

    return (
        served_by("ragserve-embedding_router", "Embed")
        and served_by("ragserve-retrieval", "Search")
        and _reaches_inference(spans, [roots[0], *below])
    )


async def test_one_trace_per_query_down_to_inference(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    _, trace_id = await query(stub, request("a question nobody asked before: lava?"))
    spans = world.receiver.wait_for(lambda s: _check_trace(s, trace_id))
    assert {s.service for s in spans if s.trace_id == trace_id} >= {
        "ragserve-orchestrator",
        "ragserve-embedding_router",
        "ragserve-retrieval",
    }


async def test_concurrent_queries_keep_their_traces_apart(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    results = await asyncio.gather(
        *(query(stub, request(f"concurrent question {i} about yeast")) for i in range(6))
    )
    trace_ids = [trace_id for _, trace_id in results]
    assert len(set(trace_ids)) == 6
    spans = world.receiver.wait_for(lambda s: all(_check_trace(s, t) for t in trace_ids))
    for trace_id in trace_ids:
        roots = [s for s in spans if s.trace_id == trace_id and s.name == QUERY_METHOD]
        below = _descendants(spans, roots[0])
        # Exactly this query's own calls: one embed and one search.
        assert len([s for s in below if s.name.endswith("/Embed") and s.kind == 2]) == 1
        assert len([s for s in below if s.name.endswith("/Search") and s.kind == 2]) == 1


# ---- a peer down ----


async def test_router_down_is_unavailable_naming_the_model(
    world: World, stub: pb_grpc.OrchestratorServiceStub
) -> None:
    """Last in the module: it kills the router, and brings it back on its port."""
    suite = world.suite
    await query(stub, request("sourdough starter"))  # the binding cached: only Embed fails
    suite.router.kill()
    try:
        # The orchestrator says so in its health, and a query says which model it could
        # not embed.
        await wait_health(suite.orchestrator.address, serving=False)
        await expect_error_prefix(
            stub,
            request("a question for a router that is gone"),
            grpc.StatusCode.UNAVAILABLE,
            f"cannot embed the query with model '{DEFAULT_MODEL}': embedding router: ",
        )
    finally:
        successor = suite.router.successor()
        successor.start(timeout_s=120)
        suite.router = successor
        suite.started.append(successor)
    # Back: the orchestrator serves again, and answers through the same channel.
    await asyncio.to_thread(suite.orchestrator.wait_ready, 60)
    events, _ = await query(stub, request("a question for a router that is back"))
    assert kinds(events) == ["start", "hits", "done"]


async def expect_error_prefix(
    stub: pb_grpc.OrchestratorServiceStub,
    message: pb.QueryRequest,
    code: grpc.StatusCode,
    prefix: str,
) -> None:
    call = stub.Query(message, timeout=60)
    received: list[Any] = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for event in call:
            received.append(event)
    assert caught.value.code() == code, caught.value.details()
    assert caught.value.details().startswith(prefix), caught.value.details()
    assert kinds(received) == ["start"]
