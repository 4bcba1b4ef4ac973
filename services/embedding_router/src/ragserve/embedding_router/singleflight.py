"""Single-flight: identical work in flight at the same time is done once.

The first caller of a key becomes its *owner* and must resolve it (``resolve`` / ``fail``);
later callers get the owner's future and await it. Resolving removes the key, so a later call
computes afresh (the cache, not this table, remembers results). If the owner fails with
:class:`Abandoned` (its caller went away), followers should retry and one of them becomes owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Abandoned(Exception):
    """The owner stopped before finishing (it was cancelled); the work was not done."""


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Future[T]] = {}

    def join(self, key: Hashable) -> tuple[asyncio.Future[T], bool]:
        """The key's future and whether the caller owns it (must resolve it)."""
        future = self._flights.get(key)
        if future is not None:
            return future, False
        future = asyncio.get_running_loop().create_future()
        # Followers may all be gone by the time the owner fails; nobody must be warned then.
        future.add_done_callback(_consume_exception)
        self._flights[key] = future
        return future, True

    def resolve(self, key: Hashable, value: T) -> None:
        future = self._flights.pop(key, None)
        if future is not None and not future.done():
            future.set_result(value)

    def fail(self, key: Hashable, error: BaseException) -> None:
        future = self._flights.pop(key, None)
        if future is not None and not future.done():
            future.set_exception(error)


def _consume_exception(future: asyncio.Future[T]) -> None:
    if not future.cancelled():
        future.exception()
