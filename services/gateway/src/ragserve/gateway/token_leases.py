"""Tokens a replica has already charged to a key's shared buckets and spends locally.

A call that asks Redis for its tokens waits on a Redis round trip — on a busy gateway
the largest share of its admission time. So a replica takes a little more than a call
needs (a *lease*: ``lease_s`` seconds of the limit's rate) and admits the next calls
from it without Redis; when the lease runs below half, the rest is topped up in the
background while calls keep spending. Every token is charged to the shared bucket
before it is spent, so replicas together never admit more than the limit over the
bucket's life; what a lease changes is *when*: each replica holds at most about two
leases unspent, which it may spend later than it took them (admitting up to that much
above the limit in a short window) or never (admitting that much less).

Tokens older than ``ttl_s`` are dropped: a lease stands for the bucket's rate when it
was taken, not for credit a replica hoards while its key is idle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ragserve.gateway.limits import Limit

# Keys with held tokens per replica; beyond it, keys whose tokens all expired go.
MAX_HELD_KEYS = 100_000


@dataclass(slots=True)
class _Held:
    tokens: dict[Limit, float] = field(default_factory=dict)
    expires_at: dict[Limit, float] = field(default_factory=dict)
    refilling: bool = False


class LeaseBook:
    """The unspent tokens of each key's leases in this replica (no I/O; one event loop)."""

    def __init__(
        self,
        sizes: Mapping[Limit, int],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sizes = {limit: size for limit, size in sizes.items() if size > 0}
        self._ttl_s = ttl_s
        self._clock = clock
        self._held: dict[str, _Held] = {}

    def size(self, limit: Limit) -> int:
        """Tokens a lease of this limit takes (0: the limit is not leased)."""
        return self._sizes.get(limit, 0)

    def held(self, key_id: str, limit: Limit) -> float:
        entry = self._held.get(key_id)
        if entry is None or entry.expires_at.get(limit, 0.0) <= self._clock():
            return 0.0
        return entry.tokens.get(limit, 0.0)

    def spend(self, key_id: str, costs: Mapping[Limit, float]) -> bool:
        """Spends every cost from held tokens, or nothing when one of them falls short."""
        entry = self._held.get(key_id)
        if entry is None:
            return False
        now = self._clock()
        for limit, cost in costs.items():
            if entry.expires_at.get(limit, 0.0) <= now or entry.tokens.get(limit, 0.0) < cost:
                return False
        for limit, cost in costs.items():
            entry.tokens[limit] -= cost
        return True

    def take(self, key_id: str, costs: Mapping[Limit, float]) -> dict[Limit, float]:
        """Removes up to each cost from held tokens, for a call that asks Redis for the rest;
        :meth:`give_back` returns them if that call is refused or fails."""
        entry = self._held.get(key_id)
        taken: dict[Limit, float] = {}
        if entry is None:
            return taken
        now = self._clock()
        for limit, cost in costs.items():
            if entry.expires_at.get(limit, 0.0) <= now:
                continue
            amount = min(cost, entry.tokens.get(limit, 0.0))
            if amount > 0:
                entry.tokens[limit] -= amount
                taken[limit] = amount
        return taken

    def give_back(self, key_id: str, taken: Mapping[Limit, float]) -> None:
        entry = self._held.get(key_id)
        if entry is None:
            return
        for limit, amount in taken.items():
            if limit in entry.tokens:
                entry.tokens[limit] += amount

    def add(self, key_id: str, grants: Mapping[Limit, float]) -> None:
        """Tokens a lease brought; they expire ``ttl_s`` from now."""
        grants = {limit: amount for limit, amount in grants.items() if amount > 0}
        if not grants:
            return
        now = self._clock()
        entry = self._held.get(key_id)
        if entry is None:
            if len(self._held) >= MAX_HELD_KEYS:
                self._prune(now)
            entry = self._held[key_id] = _Held()
        for limit, amount in grants.items():
            current = self.held(key_id, limit)
            entry.tokens[limit] = current + amount
            entry.expires_at[limit] = now + self._ttl_s

    def top_ups(self, key_id: str) -> dict[Limit, int]:
        """For each leased limit of the key below half a lease: the tokens that refill it."""
        entry = self._held.get(key_id)
        if entry is None:
            return {}
        wants: dict[Limit, int] = {}
        for limit in entry.tokens:
            size = self.size(limit)
            held = self.held(key_id, limit)
            if size and held < size / 2:
                wants[limit] = int(size - held)
        return wants

    def begin_refill(self, key_id: str) -> bool:
        """True for the one caller that may top the key up now (none is in flight)."""
        entry = self._held.get(key_id)
        if entry is None or entry.refilling:
            return False
        entry.refilling = True
        return True

    def end_refill(self, key_id: str) -> None:
        entry = self._held.get(key_id)
        if entry is not None:
            entry.refilling = False

    def _prune(self, now: float) -> None:
        self._held = {
            key_id: entry
            for key_id, entry in self._held.items()
            if entry.refilling or any(expiry > now for expiry in entry.expires_at.values())
        }
        while len(self._held) >= MAX_HELD_KEYS:  # all live: the oldest entries go
            self._held.pop(next(iter(self._held)))
