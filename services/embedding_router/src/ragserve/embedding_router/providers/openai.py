"""A client for any HTTP API that speaks OpenAI's ``POST /v1/embeddings``.

The endpoint is the base URL (``http://host:port`` or ``https://api.example.com``);
``/v1/embeddings`` is appended unless the URL already ends with it. With several endpoints, calls
go round-robin. 429 and 5xx, timeouts and connection errors are retryable (the router retries on
another provider or after a backoff); other 4xx are not.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from ragserve.embedding_router.config import ProviderConfig
from ragserve.embedding_router.providers.base import (
    EmbeddingReply,
    Priority,
    ProviderError,
    Vectors,
)
from ragserve.runtime.retry_after_header import retry_after_header_s


def _url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    if endpoint.endswith("/embeddings"):
        return endpoint
    if endpoint.endswith("/v1"):
        return endpoint + "/embeddings"
    return endpoint + "/v1/embeddings"


class OpenAIEmbeddingClient:
    def __init__(self, config: ProviderConfig, *, dimension: int) -> None:
        self._config = config
        self._dimension = dimension
        self._urls = [_url(e) for e in config.endpoints]
        self._next = itertools.cycle(range(len(self._urls)))
        headers = {"content-type": "application/json"}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if key:
                headers["authorization"] = f"Bearer {key}"
        self._http = httpx.AsyncClient(
            headers=headers,
            limits=httpx.Limits(max_connections=config.max_concurrency * 2),
        )

    async def embed(
        self,
        texts: Sequence[str],
        timeout_s: float,
        priority: Priority = Priority.NORMAL,  # OpenAI's API has no priorities
    ) -> EmbeddingReply:
        if timeout_s <= 0:
            raise ProviderError(f"provider {self._config.id!r}: no time left before the deadline")
        body = {
            "model": self._config.remote_model,
            "input": list(texts),
            "encoding_format": "float",
        }
        url = self._urls[next(self._next)]
        try:
            response = await self._http.post(url, json=body, timeout=timeout_s)
        except httpx.TimeoutException:
            raise ProviderError(
                f"provider {self._config.id!r}: no answer within {timeout_s:.3f} s"
            ) from None
        except httpx.TransportError as error:
            raise ProviderError(
                f"provider {self._config.id!r}: cannot reach {url} ({type(error).__name__})"
            ) from None
        status = response.status_code
        if status == 429:
            raise ProviderError(
                f"provider {self._config.id!r}: rate limited (HTTP 429)",
                throttled=True,
                retry_after_s=retry_after_header_s(response.headers.get("retry-after")),
            )
        if status >= 500:
            raise ProviderError(f"provider {self._config.id!r}: HTTP {status}")
        if status != 200:
            raise ProviderError(
                f"provider {self._config.id!r}: rejected the request (HTTP {status})",
                retryable=False,
            )
        try:
            payload = response.json()
            return EmbeddingReply(self._vectors(payload, len(texts)), _total_tokens(payload))
        except (ValueError, KeyError, TypeError) as error:
            raise ProviderError(
                f"provider {self._config.id!r}: malformed embeddings response ({error})"
            ) from None

    def _vectors(self, payload: Any, count: int) -> Vectors:
        data = payload["data"]
        if len(data) != count:
            raise ValueError(f"{len(data)} embeddings for {count} inputs")
        # The API allows any order; `index` says which input each vector belongs to.
        ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
        vectors = np.asarray([item["embedding"] for item in ordered], dtype=np.float32)
        if vectors.shape != (count, self._dimension):
            raise ValueError(f"shape {vectors.shape}, expected ({count}, {self._dimension})")
        return vectors

    async def close(self) -> None:
        await self._http.aclose()


def _total_tokens(payload: Any) -> int | None:
    """``usage.total_tokens`` when the server reports a positive integer; None otherwise (some
    OpenAI-compatible servers omit usage or always answer 0, which is not a count)."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
        return None
    return total
