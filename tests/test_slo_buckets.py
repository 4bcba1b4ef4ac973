"""Every latency SLO's bound is a bucket bound of the histogram it reads, or its ratio
would have no series to compute from (Prometheus matches ``le`` as a string)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.registry import Collector

from ragserve.retrieval.metrics import SEARCH_DURATION
from ragserve.runtime.rpc_metrics import RPC_METRICS
from ragserve.slo.promql import bucket_bound
from ragserve.slo.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent


def bucket_bounds(collector: Collector, histogram: str) -> set[str]:
    return {
        sample.labels["le"]
        for family in collector.collect()
        for sample in family.samples
        if sample.name == histogram + "_bucket"
    }


def test_latency_thresholds_are_bucket_bounds() -> None:
    # A child per histogram so that collect() lists its buckets.
    RPC_METRICS.method("slo.Test", "Bounds")
    SEARCH_DURATION.labels("slo-test")
    histograms = {
        name: bucket_bounds(collector, name)
        for name, collector in (
            ("grpc_server_handling_seconds", RPC_METRICS),
            ("ragserve_retrieval_search_duration_seconds", SEARCH_DURATION),
        )
    }
    latency = [
        slo for slo in load_spec(ROOT / "deploy/slo/slos.yaml").slos if slo.kind == "latency"
    ]
    assert latency
    for slo in latency:
        assert slo.threshold_seconds is not None
        assert bucket_bound(slo.threshold_seconds) in histograms[slo.histogram], slo.name
