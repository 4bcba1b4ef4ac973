"""The gRPC edge in process: proto fields filled from the core, and EmbedStream cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np
import pytest
from router_fakes import (
    DIM,
    TOKENIZER,
    FakeClient,
    SkippingClock,
    provider,
    router_config,
    vector_of,
)

from ragserve.api.embedding.v1 import embedding_pb2
from ragserve.embedding_router.config import ModelConfig
from ragserve.embedding_router.providers.base import EmbeddingReply, Priority, ProviderError
from ragserve.embedding_router.router import EmbeddingRouter
from ragserve.embedding_router.servicer import EmbeddingRouterServicer, vector_field
from ragserve.embedding_router.types import EmbedCall, Vector
from ragserve.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted

# The servicer never touches its context on these paths.
CONTEXT: Any = None


def test_the_packed_vector_bytes_parse_to_the_same_floats() -> None:
    vector: Vector = np.asarray(
        [0.0, -0.0, 1.5, -3.25e-8, 3.4e38, np.float32(1) / 3, *range(250)], dtype=np.float32
    )
    parsed = embedding_pb2.Embedding.FromString(vector_field(vector))
    assert parsed == embedding_pb2.Embedding(vector=vector.tolist())
    np.testing.assert_array_equal(np.asarray(parsed.vector, dtype=np.float32), vector)


async def test_embed_fills_every_field_and_provider_status_the_new_ones() -> None:
    throttle = ProviderError("fake: HTTP 429", throttled=True, retry_after_s=30.0)
    clients = {"ext": FakeClient(fail_next=1, error=throttle), "local": FakeClient()}
    models = (
        ModelConfig("m1", "1", DIM, tokenizer=TOKENIZER),
        ModelConfig("m2", "3", DIM),
    )
    config = router_config(
        [provider("ext", model="m1", external=True, price=2.0), provider("local", model="m2")],
        models=models,
    )
    clock = SkippingClock()
    router = EmbeddingRouter(config, clients=clients, clock=clock, sleep=clock.sleep)
    await router.start()
    try:
        servicer = EmbeddingRouterServicer(router)
        # m2 has no tokenizer: its count is an estimate.
        response = await servicer.Embed(
            embedding_pb2.EmbedRequest(tenant="t", model="m2", texts=["hello world", "bye"]),
            CONTEXT,
        )
        assert (response.model, response.model_version, response.dimension) == ("m2", "3", DIM)
        first = response.embeddings[0]
        assert (first.provider, first.cached, first.tokens, first.tokens_estimated) == (
            "local",
            False,
            4,
            True,
        )
        np.testing.assert_array_equal(
            np.asarray(first.vector, dtype=np.float32), vector_of("hello world")
        )
        again = await servicer.Embed(
            embedding_pb2.EmbedRequest(tenant="t", model="m2", texts=["hello world"]), CONTEXT
        )
        hit = again.embeddings[0]
        assert (hit.cached, hit.tokens, hit.tokens_estimated, hit.cost_usd) == (True, 0, False, 0)
        assert list(hit.vector) == list(first.vector)

        # ext answers 429 (pause 30 s); m1 has no other provider and the deadline is sooner.
        with pytest.raises(ResourceExhausted, match="every available provider is rate limiting"):
            await router.embed(
                EmbedCall(tenant="t", model="m1", texts=["x"], deadline=clock() + 0.5)
            )
        status = await servicer.GetProviderStatus(embedding_pb2.GetProviderStatusRequest(), CONTEXT)
        by_id = {p.id: p for p in status.providers}
        assert (by_id["ext"].external, by_id["local"].external) == (True, False)
        assert 29.0 < by_id["ext"].throttled_for_s <= 30.0
        assert by_id["local"].throttled_for_s == 0.0
        assert (by_id["ext"].calls, by_id["local"].calls) == (1, 1)
        assert status.cache_available is False
        assert status.cache_detail == "no Redis configured (cache.redis_url): in-process LRU only"
    finally:
        await router.close()


class _HoldsAllButFirst(FakeClient):
    """Answers the texts of batch b0 at once; holds every other call until cancelled."""

    async def embed(
        self, texts: Sequence[str], timeout_s: float, priority: Priority = Priority.NORMAL
    ) -> EmbeddingReply:
        if all(t.startswith("b0 ") for t in texts):
            return EmbeddingReply(np.stack([vector_of(t) for t in texts]))
        self.calls.append(list(texts))
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.append(list(texts))
            raise
        raise AssertionError("unreachable")


async def test_closing_an_embed_stream_cancels_the_work_in_flight() -> None:
    client = _HoldsAllButFirst()
    # One provider call per stream message (two texts each), so b0 is answered on its own.
    router = EmbeddingRouter(
        router_config([provider("a", max_batch=2, max_concurrency=8)]), clients={"a": client}
    )
    await router.start()
    read: list[str] = []
    try:
        servicer = EmbeddingRouterServicer(router, stream_parallelism=2)

        async def requests() -> AsyncIterator[embedding_pb2.EmbedStreamRequest]:
            for n in range(100):
                read.append(f"b{n}")
                yield embedding_pb2.EmbedStreamRequest(
                    tenant="t", model="m1", batch_id=f"b{n}", texts=[f"b{n} x", f"b{n} y"]
                )

        stream = servicer.EmbedStream(requests(), CONTEXT)
        first = await anext(stream)  # type: ignore[arg-type]
        assert first.batch_id == "b0"
        # b1 is awaited now; the window holds the next ones, their provider calls held.
        await client.started.wait()
        await _until(lambda: router.provider_status()[0].in_flight >= 4)
        await stream.aclose()  # type: ignore[attr-defined]
        [status] = router.provider_status()
        assert status.in_flight == 0
        # Every held provider call was cancelled, and the stream was read no further than the
        # bounded window (b0 answered, b1 awaited, two in the window, one in the reader's hand).
        assert sorted(map(sorted, client.cancelled)) == sorted(map(sorted, client.calls))
        assert len(read) <= 2 + 2 + 1
    finally:
        await router.close()


async def _until(condition: Any) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_get_tokenizer_returns_the_models_tokenizer_json_and_limits() -> None:
    models = (
        ModelConfig("m1", "7", DIM, max_tokens=128, tokenizer=TOKENIZER),
        ModelConfig("m2", "3", DIM),
    )
    config = router_config([provider("a", model="m1"), provider("b", model="m2")], models=models)
    router = EmbeddingRouter(config, clients={"a": FakeClient(), "b": FakeClient()})
    servicer = EmbeddingRouterServicer(router)
    response = await servicer.GetTokenizer(embedding_pb2.GetTokenizerRequest(model="m1"), CONTEXT)
    assert (response.model, response.model_version, response.dimension, response.max_tokens) == (
        "m1",
        "7",
        DIM,
        128,
    )
    assert response.tokenizer_json == TOKENIZER.read_text(encoding="utf-8")
    with pytest.raises(FailedPrecondition, match="model 'm2' has no tokenizer configured"):
        await servicer.GetTokenizer(embedding_pb2.GetTokenizerRequest(model="m2"), CONTEXT)
    with pytest.raises(NotFound, match=r"model 'nope' is not served here \(models: m1, m2\)"):
        await servicer.GetTokenizer(embedding_pb2.GetTokenizerRequest(model="nope"), CONTEXT)
    with pytest.raises(InvalidArgument, match="model: must name a model"):
        await servicer.GetTokenizer(embedding_pb2.GetTokenizerRequest(), CONTEXT)
