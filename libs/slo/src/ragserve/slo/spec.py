"""The one SLO spec (deploy/slo/slos.yaml) as a pydantic model.

Every SLO is a ratio of bad to all events over a window, the form Sloth and Pyrra
use, so one burn-rate machinery serves both kinds:

- ``error_ratio``: RPCs ended with a server error code / RPCs ended
  (``grpc_server_handled_total``);
- ``latency``: events slower than ``threshold_seconds`` / all events of a histogram
  (``<histogram>_count - <histogram>_bucket{le=threshold}`` over ``_count``), so
  "p95 < 2 s" is "95 % of events within 2 s"; the threshold must be a bucket bound.

Both the Prometheus rule generator and the monitor's evaluator read this model, so
their windows, thresholds and selectors cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_DURATION = re.compile(r"^([1-9][0-9]*)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.]+$")

# Codes that count against a service: its own failures, not the caller's mistakes.
DEFAULT_ERROR_CODES = (
    "UNKNOWN",
    "INTERNAL",
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
    "DATA_LOSS",
    "UNIMPLEMENTED",
)


def duration_seconds(text: str) -> int:
    """A Prometheus duration with one unit (``5m``, ``1h``, ``3d``) in seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration like 30s, 5m, 1h, 3d: {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BurnWindow(_Strict):
    """Fires when the burn rate over both windows exceeds ``burn_rate``."""

    long: str
    short: str
    burn_rate: Annotated[float, Field(gt=0)]
    severity: Literal["page", "ticket"]

    @field_validator("long", "short")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        duration_seconds(value)
        return value

    @model_validator(mode="after")
    def _short_is_shorter(self) -> Self:
        if duration_seconds(self.short) >= duration_seconds(self.long):
            raise ValueError(f"short window {self.short} must be shorter than {self.long}")
        return self

    @property
    def long_seconds(self) -> int:
        return duration_seconds(self.long)

    @property
    def short_seconds(self) -> int:
        return duration_seconds(self.short)


class Slo(_Strict):
    """One objective of one service, over some of its RPCs (or all of them)."""

    # Unique, lower-case with dashes; it names the recording-rule series.
    name: str
    description: str
    # The suite service it belongs to (a key of the monitor's targets), e.g. "gateway".
    service: str
    kind: Literal["error_ratio", "latency"]
    # Share of good events promised, e.g. 0.999.
    objective: Annotated[float, Field(gt=0, lt=1)]
    # The RPCs measured: the full gRPC service name and some of its methods (none: all).
    grpc_service: str = ""
    methods: tuple[str, ...] = ()
    # Latency SLOs: the histogram (default: the runtime's RPC duration) and the bound, in
    # seconds, an event must end within; it must be one of the histogram's bucket bounds.
    histogram: str = "grpc_server_handling_seconds"
    threshold_seconds: Annotated[float, Field(gt=0)] | None = None
    runbook_url: str = ""

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be lower-case letters, digits and dashes")
        return value

    @field_validator("methods")
    @classmethod
    def _method_shape(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for method in value:
            if not _LABEL_VALUE.match(method):
                raise ValueError(f"not a method name: {method!r}")
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> Self:
        if self.kind == "latency" and self.threshold_seconds is None:
            raise ValueError("a latency SLO needs threshold_seconds")
        if self.kind == "error_ratio" and self.threshold_seconds is not None:
            raise ValueError("threshold_seconds is for latency SLOs")
        if self.kind == "error_ratio" and not self.grpc_service:
            raise ValueError("an error_ratio SLO needs grpc_service")
        if self.methods and not self.grpc_service:
            raise ValueError("methods need grpc_service")
        return self

    @property
    def error_budget(self) -> float:
        """The share of events allowed to be bad."""
        return 1.0 - self.objective

    @property
    def unit(self) -> str:
        return "seconds" if self.kind == "latency" else "ratio"


class SloSpec(_Strict):
    # The period the error budget is counted over; the windows below assume it.
    period: str = "30d"
    # Multi-window multi-burn-rate checks (Google SRE workbook, chapter 5).
    windows: tuple[BurnWindow, ...]
    # gRPC codes that count as bad events of an error_ratio SLO.
    error_codes: tuple[str, ...] = DEFAULT_ERROR_CODES
    # Used for an SLO without its own runbook_url: <runbook_base_url>#<slo name>.
    runbook_base_url: str = ""
    slos: tuple[Slo, ...]

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        duration_seconds(value)
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [slo.name for slo in self.slos]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate SLO names: {', '.join(duplicates)}")
        if not self.windows:
            raise ValueError("at least one burn-rate window is needed")
        return self

    @property
    def period_seconds(self) -> int:
        return duration_seconds(self.period)

    def all_windows(self) -> list[str]:
        """Every distinct window, shortest first (each gets a recording rule)."""
        names = {w.long for w in self.windows} | {w.short for w in self.windows}
        return sorted(names, key=duration_seconds)

    def longest_window_seconds(self) -> int:
        return max(w.long_seconds for w in self.windows)

    def runbook_for(self, slo: Slo) -> str:
        if slo.runbook_url:
            return slo.runbook_url
        return f"{self.runbook_base_url}#{slo.name}" if self.runbook_base_url else ""


def parse_spec(text: str) -> SloSpec:
    return SloSpec.model_validate(yaml.safe_load(text))


def load_spec(path: Path) -> SloSpec:
    """The spec in ``path``; pydantic's ValidationError names the entry that is wrong."""
    return parse_spec(path.read_text(encoding="utf-8"))
