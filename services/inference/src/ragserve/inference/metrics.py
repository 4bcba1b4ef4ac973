"""Prometheus metrics an inference operator needs (Triton's nv_inference_* in spirit).

Labels stay low-cardinality: model name, outcome, a fixed set of reasons.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "ragserve_inference_requests_total",
    "Inference requests by model, outcome (success/failure) and failure reason (a status code).",
    ["model", "outcome", "reason"],
)
INFERENCES = Counter(
    "ragserve_inference_inferences_total",
    "Rows (texts, tensor rows) inferred; divided by executions it is the mean batch size.",
    ["model"],
)
EXECUTIONS = Counter(
    "ragserve_inference_executions_total",
    "Model executions (batches) run.",
    ["model"],
)
BATCH_SIZE = Histogram(
    "ragserve_inference_batch_size",
    "Rows per executed batch.",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256),
)
BATCH_PADDED_TOKENS = Histogram(
    "ragserve_inference_batch_padded_tokens",
    "Padded cost (rows x longest row) per executed batch.",
    ["model"],
    buckets=(16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768),
)
QUEUE_SECONDS = Histogram(
    "ragserve_inference_queue_duration_seconds",
    "Time a row waited in the batcher's queue before its batch started.",
    ["model"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
COMPUTE_SECONDS = Histogram(
    "ragserve_inference_compute_duration_seconds",
    "Time one batch execution took (tokenized input to pooled output).",
    ["model"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PENDING_ROWS = Gauge(
    "ragserve_inference_pending_rows",
    "Rows queued in the model's batcher, not yet executing (the HPA scales on this).",
    ["model"],
)
DROPPED = Counter(
    "ragserve_inference_dropped_total",
    "Queued rows dropped before execution, by reason.",
    ["model", "reason"],
)
EXECUTION_PROVIDER = Gauge(
    "ragserve_inference_execution_provider",
    "1 for the execution provider a loaded model runs on (first in ORT's list).",
    ["model", "provider"],
)
MODEL_READY = Gauge(
    "ragserve_inference_model_ready",
    "1 when the model is loaded, warmed up and serving.",
    ["model"],
)
