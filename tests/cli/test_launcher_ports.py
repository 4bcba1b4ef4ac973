"""The launcher's port table matches each service's settings.py (the CLI imports no service,
so the table is repeated there, as in the monitor)."""

from __future__ import annotations

import importlib

import pytest

from ragserve.client.cli.launcher import SERVICES, installed


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_default_ports_match_the_services_settings(spec: object) -> None:
    name = spec.name  # type: ignore[attr-defined]
    if not installed(name):
        pytest.skip(f"{name} is not built yet")
    settings = importlib.import_module(f"ragserve.{name}.settings")
    assert (spec.grpc_port, spec.metrics_port) == (settings.GRPC_PORT, settings.METRICS_PORT)  # type: ignore[attr-defined]
