"""The CLI's tests: ``ragserve up`` starts the whole suite once for the module (free ports,
a temporary state directory); helpers in ``cli_suite.py`` (put on ``sys.path`` here:
importlib mode)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from cli_suite import RunningSuite, Up, suite_env  # noqa: E402


@pytest.fixture(scope="module")
def suite(
    tmp_path_factory: pytest.TempPathFactory, model_repository: Path
) -> Iterator[RunningSuite]:
    state_dir = tmp_path_factory.mktemp("cli-state")
    env = suite_env(state_dir)
    up = Up.start(env)
    try:
        ready = up.wait_for("ready", timeout_s=300)
        yield RunningSuite(up, env, state_dir, ready)
    finally:
        if up.process.poll() is None:
            up.interrupt()
            try:
                up.process.wait(60)
            except Exception:
                up.process.kill()
                raise
