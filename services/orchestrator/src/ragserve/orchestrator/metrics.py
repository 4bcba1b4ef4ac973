"""Prometheus metrics of the orchestrator's ingest (labels: bounded enums only)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from ragserve.orchestrator.model import Ack, AckStatus


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.documents = Counter(
            "ragserve_orchestrator_ingest_documents_total",
            "Documents acknowledged, by status (stored, unchanged, failed) and failure code",
            ["status", "code"],
            registry=registry,
        )
        self.chunks = Counter(
            "ragserve_orchestrator_ingest_chunks_total",
            "Chunks written durably by ingest",
            registry=registry,
        )
        self.duration = Histogram(
            "ragserve_orchestrator_ingest_document_seconds",
            "From reading a document to its ack being ready, by status",
            ["status"],
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
            registry=registry,
        )

    def observe(self, ack: Ack, seconds: float) -> None:
        code = ack.failure.code.value if ack.failure is not None else ""
        self.documents.labels(ack.status.value, code).inc()
        self.duration.labels(ack.status.value).observe(seconds)
        if ack.status is AckStatus.STORED:
            self.chunks.inc(ack.chunks)
