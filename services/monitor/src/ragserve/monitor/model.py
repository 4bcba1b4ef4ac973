"""The suite as the monitor sees it: domain objects, no gRPC."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ragserve.slo.evaluate import SloVerdict


class State(enum.Enum):
    SERVING = "SERVING"
    NOT_SERVING = "NOT_SERVING"
    UNREACHABLE = "UNREACHABLE"
    DEGRADED = "DEGRADED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class ReplicaView:
    address: str
    state: State
    since: float  # seconds since the epoch
    detail: str = ""


@dataclass(frozen=True)
class Figures:
    p95_latency_seconds: float | None
    error_ratio: float | None
    requests_per_second: float
    window_s: float


@dataclass(frozen=True)
class ServiceView:
    service: str
    state: State
    replicas: tuple[ReplicaView, ...]
    figures: Figures


@dataclass(frozen=True)
class DependencyView:
    name: str  # redis, qdrant, model, chat
    state: State
    detail: str
    since: float


@dataclass(frozen=True)
class CapabilityView:
    capability: str  # query, ingest, embed
    state: State
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SuiteView:
    overall: State
    capabilities: tuple[CapabilityView, ...]
    services: tuple[ServiceView, ...]
    dependencies: tuple[DependencyView, ...]
    slos: tuple[SloVerdict, ...]
    updated_at: float
    version: int  # grows with every change that WatchStatus reports


@dataclass(frozen=True)
class Alert:
    id: str
    name: str
    severity: str  # info, warning, critical
    firing: bool
    summary: str
    value: float
    threshold: float
    runbook_url: str
    started_at: float
    resolved_at: float | None
    labels: dict[str, str] = field(default_factory=dict)
