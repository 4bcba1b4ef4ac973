"""The deploy checks: Dockerfiles, compose, Kubernetes, Prometheus, Grafana (deploy/README.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from deploy_suite import SERVICES  # noqa: E402


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "svc" in metafunc.fixturenames:
        metafunc.parametrize("svc", SERVICES, ids=[s.module for s in SERVICES])
