"""The monitor's default targets repeat the services' default ports (it imports no
service); this keeps the two tables equal."""

from __future__ import annotations

import importlib

from ragserve.monitor.targets import DEFAULT_PORTS


def test_default_ports_match_each_services_settings() -> None:
    for service, ports in DEFAULT_PORTS.items():
        try:
            settings = importlib.import_module(f"ragserve.{service}.settings")
        except ModuleNotFoundError:
            continue  # a service not in this tree yet (gateway, orchestrator)
        assert ports == (settings.GRPC_PORT, settings.METRICS_PORT), service
