"""The event loop a service process runs on: uvloop by default, the standard loop on request
(per service or suite-wide), the standard loop with a WARNING where uvloop is missing, and a
bad value refused at start with the variable named. Each case starts a real process."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from ragserve.runtime.event_loop import implementation
from ragserve.testkit.processes import ServiceFailed, ServiceProcess

HERE = Path(__file__).parent


def minimal(env: dict[str, str]) -> ServiceProcess:
    # The suite-wide switch the test run itself may carry is left out unless a case sets it.
    clean = {"RAGSERVE_EVENT_LOOP": "", **env}
    return ServiceProcess("minimal", clean, cwd=HERE, module="minimal_service")


def serving_record(process: ServiceProcess) -> dict[str, Any]:
    return process.wait_for_record(lambda r: r.get("event") == "serving")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "uvloop"),
        ({"RAGSERVE_MINIMAL_EVENT_LOOP": "uvloop"}, "uvloop"),
        ({"RAGSERVE_MINIMAL_EVENT_LOOP": "asyncio"}, "asyncio"),
        ({"RAGSERVE_EVENT_LOOP": "asyncio"}, "asyncio"),
        # The service's own variable wins over the suite-wide one.
        ({"RAGSERVE_EVENT_LOOP": "asyncio", "RAGSERVE_MINIMAL_EVENT_LOOP": "uvloop"}, "uvloop"),
    ],
)
def test_a_service_process_runs_the_loop_its_settings_name(
    env: dict[str, str], expected: str
) -> None:
    process = minimal(env)
    with process:
        assert serving_record(process)["event_loop"] == expected
    # Served health checks (unary and a server stream), then stopped on SIGTERM in order,
    # with nothing but its own records on its output (no warning or traceback at shutdown).
    assert process.process is not None and process.process.returncode == 0
    process.wait_for_record(lambda r: r.get("event") == "stopped")  # read by a thread
    assert [r["event"] for r in process.records()] == ["serving", "ready", "stopping", "stopped"]
    assert len(process.records()) == len(process.lines)


def test_without_uvloop_the_standard_loop_runs_and_says_so() -> None:
    process = minimal({"RAGSERVE_TEST_HIDE_UVLOOP": "1"})
    with process:
        assert serving_record(process)["event_loop"] == "asyncio"
    process.wait_for_record(lambda r: r.get("event") == "stopped")
    [warning] = [r for r in process.records() if r.get("level") == "WARNING"]
    assert warning["event"] == "event_loop_fallback"
    assert warning["message"].startswith("uvloop is not installed (")
    assert warning["message"].endswith("): running on the standard asyncio event loop")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"RAGSERVE_MINIMAL_EVENT_LOOP": "trio"}, "RAGSERVE_MINIMAL_EVENT_LOOP"),
        ({"RAGSERVE_EVENT_LOOP": "trio"}, "RAGSERVE_EVENT_LOOP"),
    ],
)
def test_an_unknown_loop_stops_start_up_naming_the_variable(
    env: dict[str, str], variable: str
) -> None:
    process = minimal(env)
    with pytest.raises(ServiceFailed):
        process.start(timeout_s=60)
    assert process.process is not None
    assert process.process.wait(timeout=30) == 2
    failure = next(r for r in process.records() if r.get("message") == "start-up failed")
    assert str(failure["exception"]).strip().splitlines()[-1] == (
        f"ragserve.runtime.settings.SettingsError: {variable}: "
        "input should be 'uvloop' or 'asyncio', got \"trio\""
    )


async def test_in_process_tests_run_on_the_suites_loop() -> None:
    """The root conftest gives async tests the loop services run on (RAGSERVE_EVENT_LOOP)."""
    expected = os.environ.get("RAGSERVE_EVENT_LOOP") or "uvloop"
    assert implementation(asyncio.get_running_loop()) == expected


def test_the_suite_loop_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from ragserve.runtime.event_loop import run_on_suite_loop, suite_event_loop

    monkeypatch.delenv("RAGSERVE_EVENT_LOOP", raising=False)
    assert suite_event_loop() == "uvloop"
    monkeypatch.setenv("RAGSERVE_EVENT_LOOP", "asyncio")

    async def running() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run_on_suite_loop(running()).startswith("asyncio")
    monkeypatch.setenv("RAGSERVE_EVENT_LOOP", "trio")
    with pytest.raises(ValueError, match="RAGSERVE_EVENT_LOOP: must be one of"):
        suite_event_loop()
