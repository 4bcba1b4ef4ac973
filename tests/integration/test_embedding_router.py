"""The embedding router as a process, against real parts: two inference-service replicas, a Redis
server, an OpenAI-speaking HTTP server that computes real vectors with the inference service's own
pipeline (so both providers share one vector space), and an OTLP receiver for the traces.

Cross-service: it imports the inference service's modules, which the router does not depend on.
Waits are bounded polls of status (never sleeps standing in for a condition).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import msgpack
import numpy as np
import pytest
import redis.asyncio as aioredis

from ragserve.api.common.v1 import common_pb2
from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.api.inference.v1 import inference_pb2, inference_pb2_grpc
from ragserve.embedding_router.tokens import TokenCounter
from ragserve.testkit.openai_server import OpenAIEmbeddingServer
from ragserve.testkit.otlp import OtlpReceiver, ReceivedSpan
from ragserve.testkit.ports import free_port
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

pytestmark = pytest.mark.slow

SPACE = "all-minilm-l6-v2"
EXTERNAL_SPACE = "minilm-external"
DEAD_SPACE = "dead-space"
# The same model behind one provider that gathers texts for 200 ms into one call at a time, so
# that concurrent requests share provider calls.
BATCHED_SPACE = "minilm-batched"
PREFIX = "ragserve:emb:v1"


Embedder = Callable[[Sequence[str]], np.ndarray]


def minilm_embedder(repository: Path) -> Embedder:
    """The inference service's own text pipeline (tokenize, ONNX, pool, normalise), in process."""
    from ragserve.inference.config import load_model_config
    from ragserve.inference.served_model import ModelFiles
    from ragserve.inference.text_embedding import TextEmbeddingModel

    directory = repository / SPACE
    config = load_model_config(directory / "config.json")
    version = max((p.name for p in directory.iterdir() if p.name.isdigit()), key=int)
    model = TextEmbeddingModel.load(config, ModelFiles(directory=directory, version=version))
    return model.embed_texts


def token_count(tokenizer: Path) -> Callable[[Sequence[str]], int]:
    """Total tokens of texts with the model's tokenizer, as OpenAI reports a call's usage."""
    counter = TokenCounter.from_file(tokenizer)
    return lambda texts: sum(counter.count(texts))


@dataclass
class Suite:
    redis: RedisServer
    replicas: dict[str, ServiceProcess]
    openai: OpenAIEmbeddingServer
    router: ServiceProcess
    embed: Embedder
    traces: OtlpReceiver


def _config(
    replica_ports: dict[str, int], openai_url: str, redis_url: str, tokenizer: Path
) -> dict[str, Any]:
    replicas = [
        {
            "id": name,
            "model": SPACE,
            "kind": "inference",
            "endpoints": [f"127.0.0.1:{port}"],
            "remote_model": SPACE,
            "input_name": "text",
            "output_name": "embedding",
            "max_batch": 16,
            "quality": 0.9,
        }
        for name, port in replica_ports.items()
    ]
    return {
        "models": [
            {"id": SPACE, "version": "1", "dimension": 384, "tokenizer": str(tokenizer)},
            {"id": EXTERNAL_SPACE, "version": "1", "dimension": 384, "tokenizer": str(tokenizer)},
            {"id": DEAD_SPACE, "version": "1", "dimension": 384},
            {"id": BATCHED_SPACE, "version": "1", "dimension": 384},
        ],
        "providers": [
            *replicas,
            {
                "id": "openai-sim",
                "model": EXTERNAL_SPACE,
                "kind": "openai",
                "endpoints": [openai_url],
                "price_per_1k_tokens": 0.1,
                "max_batch": 16,
            },
            {
                "id": "batching",
                "model": BATCHED_SPACE,
                "kind": "inference",
                "endpoints": [f"127.0.0.1:{replica_ports['replica-a']}"],
                "remote_model": SPACE,
                "input_name": "text",
                "output_name": "embedding",
                "max_batch": 16,
                "max_batch_wait_s": 0.2,
                "max_concurrency": 1,
            },
            {
                "id": "nowhere",
                "model": DEAD_SPACE,
                "kind": "inference",
                "endpoints": [f"127.0.0.1:{free_port()}"],
            },
        ],
        "tenants": [
            {"id": "redactor", "pii_policy": "redact"},
            {"id": "refuser", "pii_policy": "refuse"},
            {"id": "frugal", "daily_budget": 0.002},
        ],
        "routing": {"backoff_base_s": 0.01, "backoff_max_s": 0.2, "max_attempts": 6},
        "breaker": {
            "failure_threshold": 3,
            "open_s": 1.0,
            "half_open_max_calls": 2,
            "success_threshold": 2,
        },
        "cache": {"redis_url": redis_url, "timeout_s": 0.1, "retry_interval_s": 0.2},
    }


def _tracing(receiver: OtlpReceiver) -> dict[str, str]:
    # Spans are exported every 100 ms, so a test waits little for them.
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, model_repository: Path) -> Iterator[Suite]:
    embed = minilm_embedder(model_repository)
    tokenizer = model_repository / SPACE / "tokenizer.json"
    started: list[Any] = []
    try:
        traces = OtlpReceiver().start()
        started.append(traces)
        redis_server = RedisServer().start()
        started.append(redis_server)
        openai = OpenAIEmbeddingServer(embed, token_count(tokenizer)).start()
        started.append(openai)
        ports = {"replica-a": free_port(), "replica-b": free_port()}
        replicas = {
            name: ServiceProcess(
                "inference",
                env={
                    "RAGSERVE_INFERENCE_MODEL_REPOSITORY": str(model_repository),
                    "RAGSERVE_INFERENCE_MODELS": SPACE,
                    **_tracing(traces),
                },
                grpc_port=port,
            )
            for name, port in ports.items()
        }
        for replica in replicas.values():
            replica.start(timeout_s=60)
            started.append(replica)
        config = tmp_path_factory.mktemp("router") / "providers.json"
        config.write_text(json.dumps(_config(ports, openai.url, redis_server.url, tokenizer)))
        router = ServiceProcess(
            "embedding_router",
            env={"RAGSERVE_EMBEDDING_ROUTER_PROVIDERS_FILE": str(config), **_tracing(traces)},
        )
        router.start(timeout_s=60)
        started.append(router)
        yield Suite(redis_server, replicas, openai, router, embed, traces)
    finally:
        for part in reversed(started):
            if isinstance(part, ServiceProcess | RedisServer):
                part.kill()
            else:
                part.stop()


@pytest.fixture
async def stub(suite: Suite) -> AsyncIterator[embedding_pb2_grpc.EmbeddingRouterServiceStub]:
    suite.router.check_alive()
    async with grpc.aio.insecure_channel(suite.router.address) as channel:
        yield embedding_pb2_grpc.EmbeddingRouterServiceStub(channel)
    # A router that died during the test fails it with its own last log lines.
    suite.router.check_alive()


def _request(texts: list[str], model: str = SPACE, tenant: str = "t") -> embedding_pb2.EmbedRequest:
    return embedding_pb2.EmbedRequest(tenant=tenant, model=model, texts=texts)


async def _until(condition: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)  # bounded poll of a status, not a wait for a condition
    raise AssertionError(f"not within {timeout_s} s: {what}")


async def _breaker(stub: embedding_pb2_grpc.EmbeddingRouterServiceStub, provider: str) -> int:
    status = await stub.GetProviderStatus(embedding_pb2.GetProviderStatusRequest(), timeout=5)
    return next(p.breaker for p in status.providers if p.id == provider)


class Load:
    """Clients calling Embed back to back with fresh texts (so providers do the work)."""

    def __init__(
        self,
        stub: embedding_pb2_grpc.EmbeddingRouterServiceStub,
        clients: int,
        tag: str,
        repeat: bool = False,
    ) -> None:
        self._stub = stub
        self._stop = asyncio.Event()
        self._tag = tag
        self._repeat = repeat
        self.ok = 0
        self.failures: list[str] = []
        self._tasks = [asyncio.create_task(self._client(i)) for i in range(clients)]

    async def _client(self, index: int) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            key = n % 5 if self._repeat else n
            texts = [f"{self._tag} client {index} request {key} text {j}" for j in range(3)]
            try:
                response = await self._stub.Embed(_request(texts), timeout=10)
                assert len(response.embeddings) == 3
                self.ok += 1
            except grpc.aio.AioRpcError as error:
                self.failures.append(f"{error.code().name}: {error.details()}")

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)


async def test_cache_second_call_is_flagged_and_redis_holds_the_same_vectors(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    texts = ["caching is a trade of memory for time", "the second text of the cache test"]
    first = await stub.Embed(_request(texts), timeout=10)
    assert [e.cached for e in first.embeddings] == [False, False]
    # Counted with the model's tokenizer: [CLS] + word pieces + [SEP].
    assert [(e.tokens, e.tokens_estimated) for e in first.embeddings] == [(11, False), (9, False)]
    assert {e.provider for e in first.embeddings} <= {"replica-a", "replica-b"}
    assert (first.model, first.model_version, first.dimension) == (SPACE, "1", 384)
    second = await stub.Embed(_request(texts), timeout=10)
    assert [e.cached for e in second.embeddings] == [True, True]
    assert [e.provider for e in second.embeddings] == [e.provider for e in first.embeddings]
    assert [e.cost_usd for e in second.embeddings] == [0.0, 0.0]
    assert [(e.tokens, e.tokens_estimated) for e in second.embeddings] == [(0, False), (0, False)]

    client = aioredis.Redis.from_url(suite.redis.url)
    for text, embedding in zip(texts, first.embeddings, strict=True):
        key = f"{PREFIX}:{SPACE}:1:{hashlib.sha256(text.encode()).hexdigest()}"
        # The router writes to Redis in the background, after answering.
        await _until(lambda k=key: _exists(client, k), 5, f"{key} in redis")  # type: ignore[misc]
        raw = await client.get(key)
        assert 0 < await client.ttl(key) <= 900
        vector_bytes, provider = msgpack.unpackb(raw)
        assert provider == embedding.provider
        stored = np.frombuffer(vector_bytes, dtype="<f4")
        np.testing.assert_array_equal(stored, np.asarray(embedding.vector, dtype=np.float32))
    # The same vectors the model computes for these texts.
    np.testing.assert_allclose(
        np.asarray([e.vector for e in second.embeddings], dtype=np.float32),
        suite.embed(texts),
        atol=1e-5,
    )
    await client.aclose()


async def _exists(client: aioredis.Redis, key: str) -> bool:
    return bool(await client.exists(key))


PROVIDER_CALL = "embedding_router.provider_call"
EMBED_RPC = "/ragserve.api.embedding.v1.EmbeddingRouterService/Embed"


def _inference_under(spans: Sequence[ReceivedSpan], top: ReceivedSpan) -> bool:
    """Whether an inference-service request span descends from ``top`` (same trace)."""
    children: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        if span.trace_id == top.trace_id:
            children.setdefault(span.parent_span_id, []).append(span)
    below = list(children.get(top.span_id, []))
    while below:
        span = below.pop()
        if span.service == "ragserve-inference" and span.name == "inference.request":
            return True
        below.extend(children.get(span.span_id, []))
    return False


def _calls_serving(spans: Sequence[ReceivedSpan], trace_id: str) -> list[ReceivedSpan]:
    """The router's provider-call spans that served a request of this trace: its children, or
    linked to it from a trace of their own."""
    return [
        s
        for s in spans
        if s.name == PROVIDER_CALL
        and (s.trace_id == trace_id or any(t == trace_id for t, _ in s.links))
    ]


async def test_every_request_trace_reaches_inference_through_a_parent_or_a_link(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    # Calls of fresh texts, each continuing a trace of our own (W3C traceparent): one alone (its
    # provider call serves it alone), then sixteen at once: eight to a model whose providers
    # have free slots, eight to one whose provider gathers them into shared calls.
    fresh = time.time_ns()
    models = [SPACE] * 9 + [BATCHED_SPACE] * 8
    trace_ids = [f"{fresh:024x}{i:08x}" for i in range(len(models))]

    def embed(i: int) -> Any:
        return stub.Embed(
            _request([f"traced request {i} of run {fresh}"], model=models[i]),
            metadata=(("traceparent", f"00-{trace_ids[i]}-{i + 1:016x}-01"),),
            timeout=10,
        )

    alone = await embed(0)
    responses = [alone, *await asyncio.gather(*(embed(i) for i in range(1, len(models))))]
    assert all(not r.embeddings[0].cached for r in responses)

    def reached(spans: Sequence[ReceivedSpan], trace_id: str) -> bool:
        return any(_inference_under(spans, call) for call in _calls_serving(spans, trace_id))

    def complete(spans: list[ReceivedSpan]) -> bool:
        requests = [s for s in spans if s.name == EMBED_RPC and s.trace_id in trace_ids]
        return len(requests) == len(trace_ids) and all(reached(spans, t) for t in trace_ids)

    spans = await asyncio.to_thread(suite.traces.wait_for, complete, 30.0)
    requests = {
        (s.trace_id, s.span_id): s for s in spans if s.name == EMBED_RPC and s.trace_id in trace_ids
    }
    calls = {c.span_id: c for t in trace_ids for c in _calls_serving(spans, t)}
    for call in calls.values():
        # Each call links to the span of every request it served, and to nothing else.
        assert call.links and set(call.links) <= set(requests)
        assert call.attributes["batch.requests"] == len(call.links)
        if len(call.links) == 1:
            # Serving one request, the call is that request's child.
            [(trace_id, span_id)] = call.links
            assert (call.trace_id, call.parent_span_id) == (trace_id, span_id)
        else:
            # Serving several, it starts a trace of its own.
            assert call.trace_id not in trace_ids and call.parent_span_id == ""
    # Every request was served by exactly one call (one text each); both shapes occurred.
    served = [link for call in calls.values() for link in call.links]
    assert sorted(served) == sorted(requests)
    shared = [c for c in calls.values() if len(c.links) > 1]
    assert shared and len(shared) < len(calls)


async def test_every_priority_is_accepted_by_the_inference_service(
    stub: embedding_pb2_grpc.EmbeddingRouterServiceStub,
) -> None:
    # High goes to inference as its level 1; normal and low as the model's default level.
    fresh = time.time_ns()
    for priority in (
        common_pb2.PRIORITY_HIGH,
        common_pb2.PRIORITY_NORMAL,
        common_pb2.PRIORITY_LOW,
        common_pb2.PRIORITY_UNSPECIFIED,
    ):
        request = _request([f"priority {priority} of run {fresh}"])
        request.priority = priority
        response = await stub.Embed(request, timeout=10)
        assert response.embeddings[0].provider in {"replica-a", "replica-b"}
        assert not response.embeddings[0].cached


def _inference_count(suite: Suite) -> int:
    total = 0
    for replica in suite.replicas.values():
        with grpc.insecure_channel(replica.address) as channel:
            stub = inference_pb2_grpc.GRPCInferenceServiceStub(channel)
            stats = stub.ModelStatistics(
                inference_pb2.ModelStatisticsRequest(name=SPACE), timeout=5
            )
            total += sum(m.inference_count for m in stats.model_stats)
    return total


async def test_single_flight_fifty_identical_requests_compute_once(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    before = _inference_count(suite)
    text = ["fifty callers ask for the very same sentence at once"]
    responses = await asyncio.gather(*(stub.Embed(_request(text), timeout=10) for _ in range(50)))
    assert _inference_count(suite) - before == 1
    vectors = {tuple(r.embeddings[0].vector) for r in responses}
    assert len(vectors) == 1
    assert sum(r.embeddings[0].cost_usd for r in responses) == 0.0


async def test_no_healthy_provider_is_unavailable_naming_the_model(
    stub: embedding_pb2_grpc.EmbeddingRouterServiceStub,
) -> None:
    for _ in range(2):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Embed(_request(["anything"], model=DEAD_SPACE), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert caught.value.details().startswith(f"model '{DEAD_SPACE}'")
    # Once its breaker is open, the answer names the model and why, without trying.
    await _until(
        lambda: _is(stub, "nowhere", embedding_pb2.BREAKER_STATE_OPEN), 10, "breaker opens"
    )
    status = await stub.GetProviderStatus(
        embedding_pb2.GetProviderStatusRequest(model=DEAD_SPACE), timeout=5
    )
    [nowhere] = status.providers
    assert (nowhere.id, nowhere.external, nowhere.throttled_for_s) == ("nowhere", False, 0.0)
    assert nowhere.calls >= 2 and nowhere.retry_in_s > 0
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Embed(_request(["anything"], model=DEAD_SPACE), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert caught.value.details().startswith(
        f"model '{DEAD_SPACE}' has no healthy provider (nowhere: circuit open, retry in "
    )


async def _is(
    stub: embedding_pb2_grpc.EmbeddingRouterServiceStub, provider: str, state: int
) -> bool:
    return await _breaker(stub, provider) == state


async def test_stop_a_replica_under_load_no_request_fails_and_the_breaker_cycles(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    load = Load(stub, clients=4, tag="replica")
    try:
        await _until(lambda: _served(load, 10), 20, "load is flowing")
        suite.replicas["replica-a"].kill()
        await _until(
            lambda: _is(stub, "replica-a", embedding_pb2.BREAKER_STATE_OPEN), 20, "breaker opens"
        )
        suite.replicas["replica-a"].start(timeout_s=60)
        await _until(
            lambda: _is(stub, "replica-a", embedding_pb2.BREAKER_STATE_CLOSED),
            30,
            "breaker closes again",
        )
        served_before = load.ok
        await _until(lambda: _served(load, served_before + 10), 20, "load keeps flowing")
    finally:
        await load.stop()
    assert load.failures == []

    def breaker_of_a(record: dict[str, Any]) -> bool:
        return record.get("event") == "breaker" and record.get("provider") == "replica-a"

    # GetProviderStatus shows the breaker closed at once; its log record is written a
    # moment later by the router's log thread (and read here by another): wait for it.
    await asyncio.to_thread(
        suite.router.wait_for_record, lambda r: breaker_of_a(r) and r.get("to") == "closed"
    )
    transitions = [(r["from"], r["to"]) for r in suite.router.records() if breaker_of_a(r)]
    assert transitions[0] == ("closed", "open")
    assert transitions[-2:] == [("open", "half_open"), ("half_open", "closed")]


async def _served(load: Load, count: int) -> bool:
    return load.ok >= count


async def test_kill_redis_under_load_no_request_fails_and_the_cache_comes_back(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    load = Load(stub, clients=4, tag="redis", repeat=True)
    try:
        await _until(lambda: _served(load, 10), 20, "load is flowing")
        suite.redis.kill()
        await _until(lambda: _cache_available(stub, False), 10, "router reports the cache down")
        status = await stub.GetProviderStatus(embedding_pb2.GetProviderStatusRequest(), timeout=5)
        assert status.cache_detail.startswith("redis ")
        assert status.cache_detail.endswith("; serving without it and retrying")
        served_before = load.ok
        await _until(lambda: _served(load, served_before + 10), 20, "load flows without Redis")
        suite.redis.start()
        await _until(lambda: _cache_available(stub, True), 10, "router reports the cache back")
        status = await stub.GetProviderStatus(embedding_pb2.GetProviderStatusRequest(), timeout=5)
        assert status.cache_detail == ""
    finally:
        await load.stop()
    assert load.failures == []
    text = "written to redis after it came back"
    await stub.Embed(_request([text]), timeout=10)
    key = f"{PREFIX}:{SPACE}:1:{hashlib.sha256(text.encode()).hexdigest()}"
    client = aioredis.Redis.from_url(suite.redis.url)
    await _until(lambda: _exists(client, key), 5, "the cache writes to redis again")
    await client.aclose()


async def test_an_idle_router_sees_redis_go_and_come_back(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    """No Embed call here: the router checks Redis on its own, so its status (which the
    monitor reads) neither waits for traffic to notice Redis gone nor stays "down" after it
    is back."""

    async def reported(up: bool) -> bool:
        status = await stub.GetProviderStatus(embedding_pb2.GetProviderStatusRequest(), timeout=5)
        return bool(status.cache_available) is up

    await _until(lambda: reported(True), 10, "the cache up at first")
    suite.redis.kill()
    # An up Redis is checked after 5 s without commands.
    await _until(lambda: reported(False), 15, "an idle router reports Redis down")
    suite.redis.start()
    # A down one every retry interval (0.2 s here).
    await _until(lambda: reported(True), 10, "an idle router reports Redis back")
    pings = [
        r
        for r in suite.router.records()
        if r.get("message", "").startswith("redis cache unavailable")
    ]
    assert pings and pings[-1]["message"].endswith("(ping)")


async def _cache_available(stub: embedding_pb2_grpc.EmbeddingRouterServiceStub, up: bool) -> bool:
    # A call makes the router touch Redis, which is how it notices either way.
    await stub.Embed(_request([f"probe {time.monotonic()}"]), timeout=10)
    status = await stub.GetProviderStatus(embedding_pb2.GetProviderStatusRequest(), timeout=5)
    return bool(status.cache_available) is up


async def test_pii_redact_and_refuse(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    text = "please mail jane.doe@example.com or call +1 415 555 0100"
    before = len(suite.openai.received)
    response = await stub.Embed(
        _request([text], model=EXTERNAL_SPACE, tenant="redactor"), timeout=10
    )
    sent = "please mail [EMAIL] or call [PHONE]"
    assert suite.openai.received[before:] == [sent]
    np.testing.assert_allclose(
        np.asarray(response.embeddings[0].vector, dtype=np.float32),
        suite.embed([sent])[0],
        atol=1e-5,
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Embed(
            _request(["fine", text], model=EXTERNAL_SPACE, tenant="refuser"), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == (
        "texts[1] contains personal data (email, phone) and tenant 'refuser' has PII policy "
        f"'refuse'; model '{EXTERNAL_SPACE}' has only external providers"
    )
    assert "jane" not in caught.value.details()
    assert suite.openai.received[before:] == [sent]


async def test_budget_refuses_once_spent_and_the_counter_lives_in_redis(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    # The provider reports 20 tokens for the call (8 word pieces + 2 special tokens per text), at
    # 0.1 per 1000: 0.001 per text.
    texts = [f"budget text {i} with a few more words" for i in range(2)]
    first = await stub.Embed(_request(texts, model=EXTERNAL_SPACE, tenant="frugal"), timeout=10)
    assert [round(e.cost_usd, 9) for e in first.embeddings] == [0.001, 0.001]
    assert [(e.tokens, e.tokens_estimated) for e in first.embeddings] == [(10, False), (10, False)]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Embed(
            _request(["one more text please"], model=EXTERNAL_SPACE, tenant="frugal"), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.details().startswith(
        "tenant 'frugal' is over its daily budget of 0.0020: spent 0.0020 today"
    )
    retry_ms = dict(caught.value.trailing_metadata() or ()).get("retry-after-ms")
    assert retry_ms is not None and 0 < int(retry_ms) <= 86_400_000
    client = aioredis.Redis.from_url(suite.redis.url)
    keys = await client.keys("ragserve:budget:*:frugal")
    assert len(keys) == 1 and round(float(await client.get(keys[0]) or 0), 9) == 0.002
    assert 0 < await client.ttl(keys[0]) <= 2 * 86400
    await client.aclose()


async def test_charges_made_while_redis_is_down_reach_it_without_another_call(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    suite.redis.kill()
    # One text the cache has not seen, for a tenant that makes no other call.
    response = await stub.Embed(
        _request(["charged during the outage"], model=EXTERNAL_SPACE, tenant="offline"),
        timeout=10,
    )
    cost = round(response.embeddings[0].cost_usd, 9)
    assert cost > 0
    suite.redis.start()
    client = aioredis.Redis.from_url(suite.redis.url)

    async def in_redis() -> bool:
        keys = await client.keys("ragserve:budget:*:offline")
        return len(keys) == 1 and round(float(await client.get(keys[0]) or 0), 9) == cost

    await _until(in_redis, 10, "the outage's charge added to Redis")
    await client.aclose()
    suite.router.wait_for_record(
        lambda r: r.get("message") == "budget counters are shared through redis again"
    )


async def test_openai_provider_failures_are_retried_inside_the_model(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    suite.openai.set_mode("500", count=1)
    response = await stub.Embed(_request(["retried after a 500"], model=EXTERNAL_SPACE), timeout=10)
    assert response.embeddings[0].provider == "openai-sim"

    suite.openai.set_mode("429", count=1, retry_after=0.3)
    started = time.monotonic()
    await stub.Embed(_request(["retried after a 429"], model=EXTERNAL_SPACE), timeout=10)
    assert time.monotonic() - started >= 0.3

    suite.openai.set_mode("hang")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Embed(_request(["this one hangs"], model=EXTERNAL_SPACE), timeout=0.5)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        suite.openai.set_mode("ok")


async def test_embed_stream_answers_batches_in_order(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    sent = {f"b{i}": [f"stream {i} a", f"stream {i} b"] for i in range(6)}

    async def requests() -> AsyncIterator[embedding_pb2.EmbedStreamRequest]:
        for batch_id, texts in sent.items():
            yield embedding_pb2.EmbedStreamRequest(
                tenant="t", model=SPACE, batch_id=batch_id, texts=texts
            )

    answers = [r async for r in stub.EmbedStream(requests(), timeout=20)]
    assert [a.batch_id for a in answers] == [f"b{i}" for i in range(6)]
    assert all(len(a.embeddings) == 2 for a in answers)
    # Each batch's vectors are its own texts', in order (batches run concurrently).
    for answer in answers:
        np.testing.assert_allclose(
            np.asarray([e.vector for e in answer.embeddings], dtype=np.float32),
            suite.embed(sent[answer.batch_id]),
            atol=1e-5,
        )


async def test_closing_an_embed_stream_mid_way_stops_the_work_at_the_replicas(
    suite: Suite, stub: embedding_pb2_grpc.EmbeddingRouterServiceStub
) -> None:
    batches, per_batch = 64, 8
    before = _inference_count(suite)

    async def requests() -> AsyncIterator[embedding_pb2.EmbedStreamRequest]:
        for i in range(batches):
            yield embedding_pb2.EmbedStreamRequest(
                tenant="t",
                model=SPACE,
                batch_id=f"c{i}",
                texts=[f"cancelled stream {i} text {j}" for j in range(per_batch)],
            )

    call = stub.EmbedStream(requests(), timeout=30)
    first = await call.read()
    assert first.batch_id == "c0"  # type: ignore[union-attr]
    call.cancel()
    # The router drops the batches it was working on: nothing waits on the replicas any more.
    await _until(lambda: _nothing_in_flight(stub, SPACE), 10, "router in-flight drops to 0")
    # The replicas stop: a fresh one-text request is, at last, the only work between two reads.
    probes = 0
    deadline = time.monotonic() + 10
    while True:
        assert time.monotonic() < deadline, "the replicas kept computing the closed stream"
        counted = _inference_count(suite)
        probes += 1
        await stub.Embed(_request([f"probe after the stream {probes}"]), timeout=10)
        if _inference_count(suite) - counted == 1:
            break
    computed = _inference_count(suite) - before - probes
    # At most the stream's window was ever in flight (parallelism 4, ~6 batches): far from all.
    assert per_batch <= computed <= batches * per_batch // 4


async def _nothing_in_flight(
    stub: embedding_pb2_grpc.EmbeddingRouterServiceStub, model: str
) -> bool:
    status = await stub.GetProviderStatus(
        embedding_pb2.GetProviderStatusRequest(model=model), timeout=5
    )
    return all(p.in_flight == 0 for p in status.providers)


async def test_list_models(stub: embedding_pb2_grpc.EmbeddingRouterServiceStub) -> None:
    response = await stub.ListModels(embedding_pb2.ListModelsRequest(), timeout=5)
    by_id = {m.id: m for m in response.models}
    assert list(by_id[SPACE].providers) == ["replica-a", "replica-b"]
    assert (by_id[SPACE].dimension, by_id[SPACE].normalized, by_id[SPACE].max_tokens) == (
        384,
        True,
        256,
    )
