"""The OpenAI-kind client against a real HTTP server speaking OpenAI's embeddings API."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from router_fakes import TOKENIZER, hashed_embedder, token_count

from ragserve.embedding_router.config import ProviderConfig, ProviderKind
from ragserve.embedding_router.providers.base import ProviderError
from ragserve.embedding_router.providers.openai import OpenAIEmbeddingClient
from ragserve.testkit.openai_server import Embedder, OpenAIEmbeddingServer


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return hashed_embedder(384)


@pytest.fixture
def server(embedder: Embedder) -> Iterator[OpenAIEmbeddingServer]:
    running = OpenAIEmbeddingServer(embedder).start()
    yield running
    running.stop()


def _client(url: str) -> OpenAIEmbeddingClient:
    config = ProviderConfig(
        id="sim", model="m", kind=ProviderKind.OPENAI, endpoints=(url,), external=True
    )
    return OpenAIEmbeddingClient(config, dimension=384)


async def test_vectors_match_the_model(server: OpenAIEmbeddingServer, embedder: Embedder) -> None:
    client = _client(server.url)
    try:
        texts = ["the cat sat on the mat", "a different sentence"]
        reply = await client.embed(texts, timeout_s=10)
        np.testing.assert_allclose(reply.vectors, embedder(texts), rtol=0, atol=1e-6)
        assert server.received == texts
        # This server answers usage 0, which is no count.
        assert reply.total_tokens is None
    finally:
        await client.close()


async def test_reported_usage_is_returned(embedder: Embedder) -> None:
    server = OpenAIEmbeddingServer(embedder, token_count(TOKENIZER)).start()
    client = _client(server.url)
    try:
        # [CLS] the cat sat on the mat [SEP] + [CLS] a different sentence [SEP]
        reply = await client.embed(["the cat sat on the mat", "a different sentence"], 10)
        assert reply.total_tokens == 8 + 5
    finally:
        await client.close()
        server.stop()


async def test_errors_map_to_retryable_provider_errors(server: OpenAIEmbeddingServer) -> None:
    client = _client(server.url)
    try:
        server.set_mode("429", count=1, retry_after=2.5)
        with pytest.raises(ProviderError) as throttled:
            await client.embed(["x"], timeout_s=5)
        assert throttled.value.throttled and throttled.value.retry_after_s == 2.5
        assert throttled.value.message == "provider 'sim': rate limited (HTTP 429)"

        server.set_mode("500", count=1)
        with pytest.raises(ProviderError) as failed:
            await client.embed(["x"], timeout_s=5)
        assert failed.value.retryable and not failed.value.throttled
        assert failed.value.message == "provider 'sim': HTTP 500"

        server.set_mode("hang")
        started = time.monotonic()
        with pytest.raises(ProviderError) as hung:
            await client.embed(["x"], timeout_s=0.2)
        assert time.monotonic() - started < 2
        assert hung.value.retryable
        assert hung.value.message == "provider 'sim': no answer within 0.200 s"
        server.set_mode("ok")
        assert (await client.embed(["x"], timeout_s=5)).vectors.shape == (1, 384)
    finally:
        await client.close()


async def test_unreachable_endpoint_is_retryable() -> None:
    client = _client("http://127.0.0.1:9")
    try:
        with pytest.raises(ProviderError) as caught:
            await client.embed(["x"], timeout_s=2)
        assert caught.value.retryable
        assert caught.value.message.startswith("provider 'sim': cannot reach http://127.0.0.1:9/")
    finally:
        await client.close()
