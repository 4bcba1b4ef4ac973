"""The vector cache seen through screened texts: which keys a text may be found under, and which
key a computed vector is stored under.

The key is the hash of the text as sent, so a redacted text's vector is cached under the redacted
text, never under the original; a text under ``redact`` is therefore looked up under both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ragserve.embedding_router.cache import CachedVector, VectorCache, cache_key
from ragserve.embedding_router.call_state import Computed
from ragserve.embedding_router.config import ModelConfig
from ragserve.embedding_router.screening import Route, ScreenedText
from ragserve.embedding_router.types import EmbeddedText, Vector


def cache_hit(entry: CachedVector) -> EmbeddedText:
    """A cached vector as a call's answer: nothing is charged for it."""
    return EmbeddedText(entry.vector, entry.provider_id, True, 0.0, 0, False)


class CacheLookup:
    def __init__(self, cache: VectorCache, key_prefix: str) -> None:
        self._cache = cache
        self._prefix = key_prefix

    async def find(
        self, model: ModelConfig, texts: Sequence[ScreenedText]
    ) -> list[EmbeddedText | None]:
        """Each text's cached answer (LRU, then Redis), or None."""
        keys = [cache_key(self._prefix, model, t.text) for t in texts]
        # A redacted text may also have been cached under its redacted form (by an external
        # provider); those keys are looked up after the texts' own.
        redacted_at: dict[int, int] = {}
        for i, text in enumerate(texts):
            if text.route is Route.REDACT:
                redacted_at[i] = len(keys)
                keys.append(cache_key(self._prefix, model, text.redacted))
        found = await self._cache.get_many(model, keys)
        answers: list[EmbeddedText | None] = []
        for i in range(len(texts)):
            hit = found[i]
            if hit is None and i in redacted_at:
                hit = found[redacted_at[i]]
            answers.append(cache_hit(hit) if hit is not None else None)
        return answers

    def landed(self, model: ModelConfig, text: ScreenedText) -> CachedVector | None:
        """The text's entry in the in-process LRU only (no Redis, no metrics)."""
        entry = self._cache.peek(cache_key(self._prefix, model, text.text))
        if entry is None and text.route is Route.REDACT:
            entry = self._cache.peek(cache_key(self._prefix, model, text.redacted))
        return entry

    def store(self, model: ModelConfig, computed: Iterable[tuple[str, Computed]]) -> None:
        """Cache each (text as sent, computed vector)."""
        entries: list[tuple[str, Vector, str]] = [
            (cache_key(self._prefix, model, sent), item.vector, item.provider_id)
            for sent, item in computed
        ]
        self._cache.put_many(entries)
