"""The orchestrator's settings: defaults from the blueprint, bounds enforced by name."""

from __future__ import annotations

import pytest

from ragserve.orchestrator.settings import GRPC_PORT, METRICS_PORT, OrchestratorSettings
from ragserve.runtime.settings import SettingsError, load_settings


def test_defaults_and_ports() -> None:
    settings = OrchestratorSettings()
    assert (GRPC_PORT, METRICS_PORT) == (50052, 9152)
    assert (settings.ingest_concurrency, settings.embed_batch_texts, settings.embed_window) == (
        8,
        64,
        4,
    )


def test_a_variable_out_of_bounds_stops_start_up_naming_the_variable() -> None:
    environ = {"RAGSERVE_ORCHESTRATOR_UPSERT_BATCH_POINTS": "2000"}
    with pytest.raises(SettingsError, match=r"^RAGSERVE_ORCHESTRATOR_UPSERT_BATCH_POINTS: "):
        load_settings(OrchestratorSettings, "orchestrator", environ)
    environ = {
        "RAGSERVE_ORCHESTRATOR_UPSERT_BATCH_POINTS": "512",
        "RAGSERVE_ORCHESTRATOR_INGEST_CONCURRENCY": "16",
    }
    settings = load_settings(OrchestratorSettings, "orchestrator", environ)
    assert (settings.upsert_batch_points, settings.ingest_concurrency) == (512, 16)
