"""Fixtures: the retrieval core over each real backend.

``edge``: Qdrant Edge in the worker process, on a temporary directory. One store (one
worker) serves a whole test module, since a worker takes a second or two to start on
2 cores; tests stay apart because each uses a tenant of its own.
``server``: qdrant-client against a Qdrant server when QDRANT_URL is set (QDRANT_API_KEY
optional), otherwise against qdrant-client's own local mode (same client API).

Modules that use ``core`` run in one event loop per module (the shared store's futures
belong to the loop it started in): mark them ``pytest.mark.asyncio(loop_scope="module")``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from qdrant_client import AsyncQdrantClient

from ragserve.retrieval.core import RetrievalCore
from ragserve.retrieval.edge_store import EdgeStore
from ragserve.retrieval.edge_worker import WorkerSettings
from ragserve.retrieval.server_store import ServerStore


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def edge_store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EdgeStore]:
    store = EdgeStore(tmp_path_factory.mktemp("edge") / "data", WorkerSettings())
    await store.start()
    yield store
    await store.close()


@pytest_asyncio.fixture(params=["edge", "server"], loop_scope="module")
async def core(
    request: pytest.FixtureRequest, edge_store: EdgeStore, tenant: str
) -> AsyncIterator[RetrievalCore]:
    if request.param == "edge":
        retrieval = RetrievalCore(edge_store, "edge")
        yield retrieval
        # The worker outlives the test: leave nothing of this test's tenants in it.
        for name in await edge_store.list_collections():
            if name.startswith((f"{tenant}.", f"{tenant}-b.")):
                await edge_store.delete_collection(name)
        return
    if os.environ.get("QDRANT_URL"):
        store = ServerStore.connect(os.environ["QDRANT_URL"], os.environ.get("QDRANT_API_KEY"))
    else:
        store = ServerStore(AsyncQdrantClient(location=":memory:"))
    retrieval = RetrievalCore(store, "server")
    await retrieval.start()
    # Each test uses a tenant of its own, so a shared real server needs no clean-up between runs.
    yield retrieval
    for name in await retrieval.store.list_collections():
        if name.startswith((f"{tenant}.", f"{tenant}-b.")):
            await retrieval.store.delete_collection(name)
    await retrieval.close()


@pytest.fixture
def tenant(request: pytest.FixtureRequest) -> str:
    return "t-" + format(abs(hash(request.node.nodeid)) % 10**10, "d")
