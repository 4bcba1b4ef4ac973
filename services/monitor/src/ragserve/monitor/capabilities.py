"""What users can do, from the services' and dependencies' states.

A capability needs every service on its path (only those watched count) and its
required dependencies; a helper dependency down (the cache, the answer model) or a
service with some replicas down degrades it. ``overall`` is SERVING when every capability
serves, NOT_SERVING when none does, DEGRADED in between.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ragserve.monitor.model import CapabilityView, State


@dataclass(frozen=True)
class Capability:
    name: str
    services: tuple[str, ...]
    required: tuple[str, ...]  # dependencies it cannot work without
    helpers: tuple[str, ...]  # dependencies whose loss only degrades it


CAPABILITIES = (
    Capability(
        "query",
        ("gateway", "orchestrator", "embedding_router", "inference", "retrieval"),
        required=("qdrant", "model"),
        helpers=("redis", "chat"),
    ),
    Capability(
        "ingest",
        ("gateway", "orchestrator", "embedding_router", "inference", "retrieval"),
        required=("qdrant", "model"),
        helpers=(),
    ),
    Capability(
        "embed",
        ("gateway", "embedding_router", "inference"),
        required=("model",),
        helpers=("redis",),
    ),
)

DEPENDENCY_ROLE = {"redis": "cache", "chat": "answers", "qdrant": "vector store", "model": "model"}
_DOWN = (State.NOT_SERVING, State.UNREACHABLE)


def capability_state(
    capability: Capability, services: Mapping[str, State], dependencies: Mapping[str, State]
) -> CapabilityView:
    down: list[str] = []
    degraded: list[str] = []
    for service in capability.services:
        state = services.get(service)
        if state is None:
            continue  # not watched in this deployment
        if state in _DOWN:
            down.append(f"{service} {state.value.lower().replace('_', ' ')}")
        elif state is State.UNKNOWN:
            down.append(f"{service} not reached yet")
        elif state is State.DEGRADED:
            degraded.append(f"{service}: some replicas down")
    for name in capability.required:
        if dependencies.get(name) in _DOWN:
            down.append(f"{DEPENDENCY_ROLE[name]} down ({name})")
    for name in capability.helpers:
        if dependencies.get(name) in _DOWN:
            degraded.append(f"{DEPENDENCY_ROLE[name]} down ({name})")
    if down:
        return CapabilityView(capability.name, State.NOT_SERVING, tuple(down + degraded))
    if degraded:
        return CapabilityView(capability.name, State.DEGRADED, tuple(degraded))
    return CapabilityView(capability.name, State.SERVING, ())


def capabilities(
    services: Mapping[str, State], dependencies: Mapping[str, State]
) -> tuple[CapabilityView, ...]:
    return tuple(capability_state(c, services, dependencies) for c in CAPABILITIES)


def overall(views: Sequence[CapabilityView]) -> State:
    states = {view.state for view in views}
    if states == {State.SERVING}:
        return State.SERVING
    if states <= {State.NOT_SERVING}:
        return State.NOT_SERVING
    return State.DEGRADED


def service_state(replica_states: Sequence[State]) -> State:
    """SERVING when every replica serves, DEGRADED when some do, else the replicas' worst;
    UNREACHABLE without replicas (discovery found none)."""
    if not replica_states:
        return State.UNREACHABLE
    serving = sum(1 for s in replica_states if s is State.SERVING)
    if serving == len(replica_states):
        return State.SERVING
    if serving:
        return State.DEGRADED
    if all(s is State.UNREACHABLE for s in replica_states):
        return State.UNREACHABLE
    if all(s is State.UNKNOWN for s in replica_states):
        return State.UNKNOWN
    return State.NOT_SERVING
