"""The state one ``embed`` call carries through its steps, and what a provider computed for it.

A call's texts travel apart from this state (as :class:`~ragserve.embedding_router.screening.
ScreenedText`), because each step works on a subset of them: the cache misses, the texts this call
computes itself, the texts of one route.
"""

from __future__ import annotations

from dataclasses import dataclass

from ragserve.embedding_router.config import ModelConfig, TenantConfig
from ragserve.embedding_router.providers.base import Priority
from ragserve.embedding_router.types import Vector


@dataclass(frozen=True, slots=True)
class CallState:
    """What every step of one call needs besides its texts. Built once, after validation."""

    tenant: TenantConfig
    # The tenant as a metric label: its id when configured, else "other" (bounded cardinality).
    tenant_label: str
    model: ModelConfig
    # On the router's monotonic clock.
    deadline: float
    # The priority of the call's texts at the providers' batchers.
    priority: Priority


@dataclass(frozen=True, slots=True)
class Computed:
    """One text's vector as computed by a provider for this call, and what the call is charged."""

    vector: Vector
    provider_id: str
    tokens: int
    cost: float
    tokens_estimated: bool
