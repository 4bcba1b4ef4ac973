"""Settings of the monitor, from ``RAGSERVE_MONITOR_*`` variables."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragserve.monitor.targets import parse_targets

GRPC_PORT = 50056
METRICS_PORT = 9156


class MonitorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGSERVE_MONITOR_", frozen=True, extra="ignore")

    # The replicas watched: comma-separated `service=host:grpc_port/metrics_port` entries,
    # one per replica (a service may repeat); `service=dns+name:port/metrics_port` watches
    # every address the name resolves to (a headless Service). Empty: the six services on their default
    # ports on localhost (or their RAGSERVE_<SERVICE>_ADDR), the monitor itself included.
    targets: str = ""
    # The one SLO spec (deploy/slo/slos.yaml), relative to the working directory.
    slo_spec: Path = Path("deploy/slo/slos.yaml")
    # Seconds between scrapes of every replica's /metrics (and SLO evaluations).
    scrape_interval_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    # Seconds the status figures (p95, error ratio, throughput) cover.
    figures_window_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # Seconds between dependency probes (Redis through the router, the model).
    probe_interval_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    # Seconds a /metrics scrape or a probe may take.
    probe_timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    # Reconnect backoff of a replica's health watch, in seconds: first wait and cap.
    reconnect_initial_s: Annotated[float, Field(gt=0, le=60)] = 0.1
    reconnect_max_s: Annotated[float, Field(gt=0, le=300)] = 1.0
    # A Prometheus server (e.g. http://prometheus:9090) to read SLO ratios from instead of
    # the monitor's own scrapes.
    prometheus_url: str = ""
    # Where alerts are POSTed in Alertmanager's webhook format (empty: nowhere).
    webhook_url: str = ""
    # Seconds after an alert batch is produced that a failed webhook POST (connection
    # error, timeout, 5xx, 429) is retried; then the batch is dropped (logged, counted).
    webhook_retry_s: Annotated[float, Field(gt=0, le=86400)] = 300.0
    # Batches that may wait behind the one being sent; a new batch beyond that drops the
    # oldest waiting one (logged, counted).
    webhook_queue_batches: Annotated[int, Field(ge=1, le=100_000)] = 1000
    # A chat (answer) endpoint to probe with GET, e.g. http://llm:8000/v1/models (empty: none).
    chat_url: str = ""
    # Link the status page and alerts give for the SLO rules and runbooks.
    external_url: str = ""

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url_is_http(cls, value: str) -> str:
        # Checked here: a URL urllib cannot POST to would fail every batch, silently.
        parts = urllib.parse.urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("expected an http:// or https:// URL with a host")
        return value

    @field_validator("targets")
    @classmethod
    def _targets_parse(cls, value: str) -> str:
        parse_targets(value)
        return value
