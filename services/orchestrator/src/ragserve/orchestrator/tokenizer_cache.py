"""Each model's tokenizer, fetched from the router (GetTokenizer) and kept for a while.

Chunks are cut with the model's own tokenizer so that none exceeds its token limit; the
router owns the models, so the tokenizer comes from it rather than from another service's
files. Entries expire after ``ttl_s`` so a new model version is picked up; one fetch per
model at a time (concurrent streams wait for the same one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from tokenizers import Tokenizer

from ragserve.orchestrator.peers import EmbeddingPeer, ModelDescription


@dataclass(frozen=True, slots=True)
class LoadedTokenizer:
    model: ModelDescription
    # Truncation and padding off: it counts and cuts whole texts.
    tokenizer: Tokenizer


def _load(tokenizer_json: str) -> Tokenizer:
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class TokenizerCache:
    def __init__(
        self,
        embedding: EmbeddingPeer,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._embedding = embedding
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, LoadedTokenizer]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, model: str) -> LoadedTokenizer:
        entry = self._entries.get(model)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        lock = self._locks.setdefault(model, asyncio.Lock())
        async with lock:
            entry = self._entries.get(model)
            if entry is not None and entry[0] > self._clock():
                return entry[1]
            fetched = await self._embedding.get_tokenizer(model)
            # Parsing a tokenizer.json takes tens of milliseconds: off the event loop.
            tokenizer = await asyncio.to_thread(_load, fetched.tokenizer_json)
            loaded = LoadedTokenizer(fetched.model, tokenizer)
            self._entries[model] = (self._clock() + self._ttl_s, loaded)
            return loaded
