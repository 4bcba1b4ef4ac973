"""Which model a collection is bound to, remembered for a few seconds.

The binding lives in retrieval (the orchestrator's registry): asking for it on every
query would add a retrieval round trip to each. A binding only changes when a
collection is deleted and created again under the same name, so a short time to
live bounds how long a query may use the old model; a missing collection is never
remembered (it may be created the next moment).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

Resolve = Callable[[str, str], Awaitable[str]]


class CollectionModelCache:
    def __init__(
        self,
        resolve: Resolve,
        ttl_s: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolve = resolve
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    async def model_of(self, tenant: str, collection: str) -> str:
        key = (tenant, collection)
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            self._entries.move_to_end(key)
            return entry[1]
        model = await self._resolve(tenant, collection)
        if self._ttl_s > 0:
            self._entries[key] = (self._clock() + self._ttl_s, model)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return model
