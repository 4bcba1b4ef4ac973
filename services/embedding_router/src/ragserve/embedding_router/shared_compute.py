"""Computing a call's cache misses once across concurrent calls (single-flight).

The first call to need a (model, route, text) owns its computation; identical texts of calls
arriving meanwhile follow it and get its vector, charged nothing. An owner that fails (its budget,
its deadline, its cancellation) abandons its texts: followers then try again for themselves rather
than inherit an error that may not be theirs. Computed vectors go to the cache in the same step as
they leave the flight table, so a later owner finds them there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from ragserve.embedding_router.attempts import ProviderAttempts
from ragserve.embedding_router.cache_lookup import CacheLookup, cache_hit
from ragserve.embedding_router.call_state import CallState, Computed
from ragserve.embedding_router.metrics import RouterMetrics
from ragserve.embedding_router.provider_runtime import ProviderRuntime
from ragserve.embedding_router.screening import Route, ScreenedText
from ragserve.embedding_router.singleflight import Abandoned, SingleFlight
from ragserve.embedding_router.types import EmbeddedText
from ragserve.errors import DeadlineExceeded

_FlightKey = tuple[str, Route, str]


class SharedComputation:
    def __init__(
        self,
        attempts: ProviderAttempts,
        lookup: CacheLookup,
        providers: Mapping[str, ProviderRuntime],
        metrics: RouterMetrics,
        clock: Callable[[], float],
    ) -> None:
        self._attempts = attempts
        self._lookup = lookup
        self._providers = providers
        self._metrics = metrics
        self._clock = clock
        self._flights: SingleFlight[Computed] = SingleFlight()

    async def compute(self, call: CallState, texts: Sequence[ScreenedText]) -> list[EmbeddedText]:
        """One answer per text, in order."""
        results: list[EmbeddedText | None] = [None] * len(texts)
        while True:
            owned: list[int] = []
            followed: list[tuple[int, asyncio.Future[Computed]]] = []
            for i, text in enumerate(texts):
                if results[i] is not None:
                    continue
                key = _key(call, text)
                future, owner = self._flights.join(key)
                if not owner:
                    followed.append((i, future))
                    continue
                # An identical computation may have finished while this call was looking in
                # Redis; its result went to the LRU in the same step as it left the flight table.
                landed = self._lookup.landed(call.model, text)
                if landed is not None:
                    self._flights.resolve(
                        key, Computed(landed.vector, landed.provider_id, 0, 0.0, False)
                    )
                    results[i] = cache_hit(landed)
                    continue
                owned.append(i)
            if owned:
                await self._compute_owned(call, texts, owned, results)
            abandoned = False
            for i, future in followed:
                remaining = call.deadline - self._clock()
                try:
                    shared = await asyncio.wait_for(asyncio.shield(future), max(remaining, 0.0))
                except TimeoutError:
                    raise DeadlineExceeded(
                        f"model {call.model.id!r}: deadline passed waiting for an identical request"
                    ) from None
                except Abandoned:
                    abandoned = True
                    continue
                self._metrics.singleflight_shared.inc()
                # Computed (and charged) for another call: nothing is charged to this one.
                results[i] = EmbeddedText(shared.vector, shared.provider_id, False, 0.0, 0, False)
            if not abandoned:
                break
        return [r for r in results if r is not None]

    async def _compute_owned(
        self,
        call: CallState,
        texts: Sequence[ScreenedText],
        owned: list[int],
        results: list[EmbeddedText | None],
    ) -> None:
        """Compute the owned texts, one provider attempt loop per route, and resolve them."""
        by_route: dict[Route, list[int]] = {}
        for i in owned:
            by_route.setdefault(texts[i].route, []).append(i)
        try:
            groups = await asyncio.gather(
                *(
                    self._attempts.compute(call, route, [texts[i] for i in indexes])
                    for route, indexes in by_route.items()
                )
            )
        except BaseException:
            # The owner's failure may be its own (its budget, its deadline, its cancellation):
            # followers are told to try again for themselves rather than given this error.
            for i in owned:
                self._flights.fail(_key(call, texts[i]), Abandoned())
            raise
        to_cache: list[tuple[str, Computed]] = []
        for indexes, computed in zip(by_route.values(), groups, strict=True):
            for i, item in zip(indexes, computed, strict=True):
                self._flights.resolve(_key(call, texts[i]), item)
                results[i] = EmbeddedText(
                    item.vector,
                    item.provider_id,
                    False,
                    item.cost,
                    item.tokens,
                    item.tokens_estimated,
                )
                external = self._providers[item.provider_id].config.external
                to_cache.append((texts[i].as_sent_to(external), item))
        self._lookup.store(call.model, to_cache)


def _key(call: CallState, text: ScreenedText) -> _FlightKey:
    return (call.model.id, text.route, text.text)
