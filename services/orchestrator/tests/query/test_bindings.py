"""Collection → model bindings are reused for their time to live; misses are not kept."""

from __future__ import annotations

import pytest

from ragserve.errors import NotFound
from ragserve.orchestrator.query.bindings import CollectionModelCache


class Registry:
    def __init__(self) -> None:
        self.models = {"a": "m1"}
        self.calls = 0

    async def resolve(self, tenant: str, collection: str) -> str:
        self.calls += 1
        if collection not in self.models:
            raise NotFound(f"collection {collection!r} does not exist")
        return self.models[collection]


async def test_bindings_are_reused_until_they_expire() -> None:
    now = [0.0]
    registry = Registry()
    cache = CollectionModelCache(registry.resolve, ttl_s=5, clock=lambda: now[0])
    assert await cache.model_of("t", "a") == "m1"
    registry.models["a"] = "m2"
    now[0] = 4.9
    assert await cache.model_of("t", "a") == "m1"
    now[0] = 5.1
    assert await cache.model_of("t", "a") == "m2"
    assert registry.calls == 2


async def test_missing_collections_are_asked_again() -> None:
    registry = Registry()
    cache = CollectionModelCache(registry.resolve, ttl_s=5)
    for _ in range(2):
        with pytest.raises(NotFound):
            await cache.model_of("t", "b")
    assert registry.calls == 2


async def test_tenants_do_not_share_bindings_and_size_is_bounded() -> None:
    registry = Registry()
    cache = CollectionModelCache(registry.resolve, ttl_s=5, max_entries=1)
    await cache.model_of("t1", "a")
    await cache.model_of("t2", "a")
    await cache.model_of("t1", "a")
    assert registry.calls == 3
