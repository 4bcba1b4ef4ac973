"""Both SDK clients behind one blocking interface, so that one test body runs over the
sync :class:`Client` and the :class:`AsyncClient` alike: a test parametrized over
``KINDS`` fails when the two clients diverge.

The async client is created, called and closed on one event loop of the test's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ragserve.client import AsyncClient, Client, QueryEvent

KINDS = ("sync", "async")


class Driver:
    """``driver.method(...)`` calls the client's method and returns its result; for the
    async client it is awaited (and a query's events gathered) on the driver's loop."""

    def __init__(self, kind: str, *args: Any, **kwargs: Any) -> None:
        self.kind = kind
        self._loop: asyncio.AbstractEventLoop | None = None
        if kind == "sync":
            self.client: Client | AsyncClient = Client(*args, **kwargs)
        else:
            self._loop = asyncio.new_event_loop()
            self.client = self._run(_make_async(*args, **kwargs))

    def _run(self, awaitable: Any) -> Any:
        assert self._loop is not None
        return self._loop.run_until_complete(awaitable)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)
        if self._loop is None:
            return method  # type: ignore[no-any-return]
        return lambda *args, **kwargs: self._run(method(*args, **kwargs))

    def events(self, *args: Any, **kwargs: Any) -> list[QueryEvent]:
        """Every event of ``query(*args, **kwargs)``."""
        if isinstance(self.client, Client):
            return list(self.client.query(*args, **kwargs))
        return self._run(_gather(self.client, *args, **kwargs))  # type: ignore[no-any-return]

    def first_event_then_stop(self, *args: Any, **kwargs: Any) -> QueryEvent:
        """Reads one event of a query, then stops reading (a `break`, closing the iterator)."""
        if isinstance(self.client, Client):
            events = self.client.query(*args, **kwargs)
            first = next(events)
            events.close()  # type: ignore[attr-defined]
            return first
        return self._run(_first(self.client, *args, **kwargs))  # type: ignore[no-any-return]

    def close(self) -> None:
        if isinstance(self.client, Client):
            self.client.close()
            return
        self._run(self.client.close())
        assert self._loop is not None
        self._loop.close()

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _make_async(*args: Any, **kwargs: Any) -> AsyncClient:
    return AsyncClient(*args, **kwargs)


async def _gather(client: AsyncClient, *args: Any, **kwargs: Any) -> list[QueryEvent]:
    return [event async for event in client.query(*args, **kwargs)]


async def _first(client: AsyncClient, *args: Any, **kwargs: Any) -> QueryEvent:
    events = client.query(*args, **kwargs)
    first = await anext(events)
    await events.aclose()  # type: ignore[attr-defined]
    return first
