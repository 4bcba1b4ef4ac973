"""Fixtures of the SDK's unit tests: a scripted gateway in process (``scripted_gateway.py``
next to this file) and the client kind a test runs over (``clients.py``); both modules
are put on ``sys.path`` here (importlib mode)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from clients import KINDS  # noqa: E402
from scripted_gateway import Gateway, Script, start_gateway  # noqa: E402


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server, running = start_gateway(Script())
    try:
        yield running
    finally:
        server.stop(None)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """Which client a test drives (clients.Driver): each such test runs over both."""
    return str(request.param)
