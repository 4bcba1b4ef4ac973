"""Capabilities and the overall state from service and dependency states (pure)."""

from __future__ import annotations

from ragserve.monitor.capabilities import capabilities, overall, service_state
from ragserve.monitor.model import State

ALL = ("gateway", "orchestrator", "embedding_router", "inference", "retrieval")
UP = dict.fromkeys(ALL, State.SERVING)
DEPS_UP = {"redis": State.SERVING, "qdrant": State.SERVING, "model": State.SERVING}


def by_name(
    services: dict[str, State], dependencies: dict[str, State]
) -> dict[str, tuple[State, tuple[str, ...]]]:
    return {c.capability: (c.state, c.reasons) for c in capabilities(services, dependencies)}


def test_everything_up_serves() -> None:
    views = capabilities(UP, DEPS_UP)
    assert {c.state for c in views} == {State.SERVING}
    assert overall(views) is State.SERVING


def test_cache_down_degrades_queries_and_embeddings_not_ingest() -> None:
    result = by_name(UP, {**DEPS_UP, "redis": State.UNREACHABLE})
    assert result["query"] == (State.DEGRADED, ("cache down (redis)",))
    assert result["embed"] == (State.DEGRADED, ("cache down (redis)",))
    assert result["ingest"] == (State.SERVING, ())
    assert overall(capabilities(UP, {**DEPS_UP, "redis": State.UNREACHABLE})) is State.DEGRADED


def test_retrieval_down_stops_query_and_ingest_but_not_embed() -> None:
    services = {**UP, "retrieval": State.UNREACHABLE}
    result = by_name(services, DEPS_UP)
    assert result["query"] == (State.NOT_SERVING, ("retrieval unreachable",))
    assert result["embed"] == (State.SERVING, ())
    assert overall(capabilities(services, DEPS_UP)) is State.DEGRADED


def test_everything_down_is_not_serving() -> None:
    services = dict.fromkeys(ALL, State.UNREACHABLE)
    assert overall(capabilities(services, {})) is State.NOT_SERVING


def test_unwatched_services_do_not_count() -> None:
    result = by_name({"inference": State.SERVING, "embedding_router": State.SERVING}, DEPS_UP)
    assert result["embed"] == (State.SERVING, ())


def test_chat_down_degrades_queries_only() -> None:
    result = by_name(UP, {**DEPS_UP, "chat": State.UNREACHABLE})
    assert result["query"] == (State.DEGRADED, ("answers down (chat)",))
    assert result["ingest"][0] is State.SERVING


def test_service_state_from_replicas() -> None:
    assert service_state([State.SERVING, State.SERVING]) is State.SERVING
    assert service_state([State.SERVING, State.UNREACHABLE]) is State.DEGRADED
    assert service_state([State.UNREACHABLE, State.UNREACHABLE]) is State.UNREACHABLE
    assert service_state([State.NOT_SERVING, State.UNREACHABLE]) is State.NOT_SERVING
    assert service_state([]) is State.UNREACHABLE
