"""Fixtures: the retrieval core over each real backend.

``edge``: Qdrant Edge in the worker process, on a temporary directory.
``server``: qdrant-client against a Qdrant server when QDRANT_URL is set (QDRANT_API_KEY
optional), otherwise against qdrant-client's own local mode (same client API).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient

from ragserve.retrieval.core import RetrievalCore
from ragserve.retrieval.edge_store import EdgeStore
from ragserve.retrieval.edge_worker import WorkerSettings
from ragserve.retrieval.server_store import ServerStore


@pytest.fixture(params=["edge", "server"])
async def core(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RetrievalCore]:
    if request.param == "edge":
        store: EdgeStore | ServerStore = EdgeStore(tmp_path / "edge", WorkerSettings())
    elif os.environ.get("QDRANT_URL"):
        store = ServerStore.connect(os.environ["QDRANT_URL"], os.environ.get("QDRANT_API_KEY"))
    else:
        store = ServerStore(AsyncQdrantClient(location=":memory:"))
    retrieval = RetrievalCore(store, request.param)
    await retrieval.start()
    # Each test uses a tenant of its own, so a shared real server needs no clean-up between runs.
    yield retrieval
    for name in await retrieval.store.list_collections():
        if name.startswith("t-"):
            await retrieval.store.delete_collection(name)
    await retrieval.close()


@pytest.fixture
def tenant(request: pytest.FixtureRequest) -> str:
    return "t-" + format(abs(hash(request.node.nodeid)) % 10**10, "d")
