"""Every latency SLO's bound is a bucket bound of the histogram it reads, or its ratio
would have no series to compute from (Prometheus matches ``le`` as a string)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import Histogram

from ragserve.retrieval.metrics import SEARCH_DURATION
from ragserve.runtime.interceptors import RPC_DURATION
from ragserve.slo.promql import bucket_bound
from ragserve.slo.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent


def bucket_bounds(histogram: Histogram) -> set[str]:
    return {
        sample.labels["le"]
        for family in histogram.collect()
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }


def test_latency_thresholds_are_bucket_bounds() -> None:
    # A child per histogram so that collect() lists its buckets.
    RPC_DURATION.labels("slo.Test", "Bounds")
    SEARCH_DURATION.labels("slo-test")
    histograms = {
        "grpc_server_handling_seconds": bucket_bounds(RPC_DURATION),
        "ragserve_retrieval_search_duration_seconds": bucket_bounds(SEARCH_DURATION),
    }
    latency = [
        slo for slo in load_spec(ROOT / "deploy/slo/slos.yaml").slos if slo.kind == "latency"
    ]
    assert latency
    for slo in latency:
        assert slo.threshold_seconds is not None
        assert bucket_bound(slo.threshold_seconds) in histograms[slo.histogram], slo.name
