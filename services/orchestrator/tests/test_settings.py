"""The orchestrator's settings: defaults from the blueprint, bounds enforced by name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragserve.orchestrator.settings import GRPC_PORT, METRICS_PORT, OrchestratorSettings


def test_defaults_and_ports() -> None:
    settings = OrchestratorSettings()
    assert (GRPC_PORT, METRICS_PORT) == (50052, 9152)
    assert (settings.ingest_concurrency, settings.embed_batch_texts, settings.embed_window) == (
        8,
        64,
        4,
    )


def test_a_variable_out_of_bounds_stops_start_up_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGSERVE_ORCHESTRATOR_UPSERT_BATCH_POINTS", "2000")
    with pytest.raises(ValidationError, match="upsert_batch_points"):
        OrchestratorSettings()
    monkeypatch.setenv("RAGSERVE_ORCHESTRATOR_UPSERT_BATCH_POINTS", "512")
    monkeypatch.setenv("RAGSERVE_ORCHESTRATOR_INGEST_CONCURRENCY", "16")
    settings = OrchestratorSettings()
    assert (settings.upsert_batch_points, settings.ingest_concurrency) == (512, 16)
