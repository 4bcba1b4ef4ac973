"""The monitor's own Prometheus metrics (its RPCs' RED metrics come from the runtime).

Labels stay bounded: ``service`` and ``address`` come from the configured target list.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REPLICA_SERVING = Gauge(
    "ragserve_monitor_replica_serving",
    "1 while the replica's grpc.health.v1 stream says SERVING, else 0",
    ["service", "address"],
)
ALERTS_FIRING = Gauge(
    "ragserve_monitor_alerts_firing",
    "Alerts firing now, by alert name and severity",
    ["alertname", "severity"],
)
SCRAPE_FAILURES = Counter(
    "ragserve_monitor_scrape_failures_total",
    "Scrapes of a replica's /metrics that failed",
    ["service"],
)
ROUND_SECONDS = Histogram(
    "ragserve_monitor_evaluation_duration_seconds",
    "Time of one round: scrape every replica, figures, SLO verdicts, alerts",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
WEBHOOK_DELIVERIES = Counter(
    "ragserve_monitor_webhook_deliveries_total",
    "Batches of alert events the webhook receiver accepted (2xx)",
)
WEBHOOK_RETRIES = Counter(
    "ragserve_monitor_webhook_retries_total",
    "Webhook POSTs that failed (connection error, timeout, 5xx, 429) and are tried again",
)
WEBHOOK_DROPPED_ALERTS = Counter(
    "ragserve_monitor_webhook_dropped_alerts_total",
    "Alert events the webhook never delivered, by reason: rejected (4xx), expired (past "
    "the retry bound), overflow (queue full), shutdown (not sent within the grace period)",
    ["reason"],
)
# Every reason's series exists from the start, so a rate() over it is 0, not absent.
for _reason in ("rejected", "expired", "overflow", "shutdown"):
    WEBHOOK_DROPPED_ALERTS.labels(_reason)
WEBHOOK_QUEUED = Gauge(
    "ragserve_monitor_webhook_queued_batches",
    "Batches of alert events waiting for the webhook, the one being sent included",
)
