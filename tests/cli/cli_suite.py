"""Driving the ``ragserve`` command as a user would: real subprocesses, real suite.

``ragserve up --json`` runs in its own session (as a terminal's foreground job
would) on free ports with a temporary state directory; its JSON lines tell the
PIDs it started. Every other command runs to completion with the same environment.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragserve.testkit.ports import free_port

SERVICES = ("inference", "retrieval", "embedding_router", "orchestrator", "gateway", "monitor")


def ragserve_binary() -> str:
    found = shutil.which("ragserve")
    assert found, "the ragserve console script is not installed (make setup)"
    return found


def suite_env(state_dir: Path) -> dict[str, str]:
    """Free ports for every part, so the test never meets a suite on the default ports."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RAGSERVE_") or key == "RAGSERVE_INFERENCE_MODEL_REPOSITORY"
    }
    # Fixed ports (`ragserve up` binds them over tens of seconds), from the testkit: below
    # the kernel's ephemeral range, so no port-0 server or client connection takes one in
    # the meantime, and distinct (each draw of its own once repeated one in ~150 suites).
    env["RAGSERVE_STATE_DIR"] = str(state_dir)
    env["RAGSERVE_REDIS_PORT"] = str(free_port())
    env["RAGSERVE_INFERENCE_MODELS"] = "all-minilm-l6-v2"
    for service in SERVICES:
        prefix = f"RAGSERVE_{service.upper()}_"
        env[prefix + "PORT"] = str(free_port())
        env[prefix + "METRICS_PORT"] = str(free_port())
    env["RAGSERVE_GATEWAY_ADDR"] = f"127.0.0.1:{env['RAGSERVE_GATEWAY_PORT']}"
    env["COLUMNS"] = "200"  # tables unwrapped in captured output
    return env


@dataclass
class Up:
    """A running ``ragserve up --json``."""

    process: subprocess.Popen[str]
    lines: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    records: list[dict[str, Any]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(cls, env: dict[str, str]) -> Up:
        process = subprocess.Popen(
            [ragserve_binary(), "up", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        up = cls(process)
        up.readers = [
            threading.Thread(target=up._read_stdout, daemon=True),
            threading.Thread(target=up._read_stderr, daemon=True),
        ]
        for reader in up.readers:
            reader.start()
        return up

    def wait_exit(self, timeout_s: float) -> int:
        """Waits for ``ragserve up`` to exit and for its output to be read to the end;
        returns its exit code. Its last line (``stopped``) is written just before it exits,
        and the threads reading its output may not have read it when ``Popen.wait`` returns."""
        code = self.process.wait(timeout_s)
        for reader in self.readers:
            reader.join(timeout_s)  # ends at the pipe's end of file
        return code

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            record = json.loads(line)
            self.records.append(record)
            self.lines.put(record)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.rstrip("\n"))

    def wait_for(self, event: str, timeout_s: float, **match: Any) -> dict[str, Any]:
        """The next record of ``event`` (and fields ``match``), by reading the stream."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event} {match} within {timeout_s} s:\n" + self.log())
            try:
                record = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if record.get("event") == event and all(record.get(k) == v for k, v in match.items()):
                return record
            if record.get("event") == "stopped":
                raise AssertionError(f"ragserve up stopped before {event}:\n" + self.log())

    def log(self) -> str:
        return "\n".join(self.stderr[-40:])

    def interrupt(self) -> None:
        """Ctrl-C as a terminal sends it: SIGINT to the foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def started_pids(self) -> dict[str, int]:
        return {
            r["service"]: r["pid"]
            for r in self.records
            if r.get("event") == "service" and r.get("pid") is not None
        }


@dataclass
class RunningSuite:
    up: Up
    env: dict[str, str]
    state_dir: Path
    # The `ready` record of `ragserve up --json`.
    ready: dict[str, Any]


def run(
    env: dict[str, str], *args: str, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ragserve_binary(), *args], env=env, capture_output=True, text=True, timeout=timeout_s
    )


def json_lines(completed: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]


def gone(pid: int) -> bool:
    """The process and every process of its group (its children) have exited."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False
