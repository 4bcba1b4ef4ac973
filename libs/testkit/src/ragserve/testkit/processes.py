"""Start a ragserve service as a real process and wait until it serves.

The service is started with ``python -m ragserve.<name>`` on port 0; its JSON
log line ``{"event": "serving", "grpc_port": ..., "metrics_port": ...}`` tells
the ports, and readiness is awaited through ``grpc.health.v1`` (bounded,
no sleeps). Every log line is kept for assertions and failure reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ragserve.runtime.settings import env_prefix

# Longest wait for the rest of an exited process's log (see ServiceProcess.wait_exit).
_LOG_DRAIN_S = 10.0


class ServiceFailed(RuntimeError):
    """The process exited or did not become ready; the message carries its log tail."""


class ServiceProcess:
    def __init__(
        self,
        name: str,
        env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        grpc_port: int = 0,
        module: str | None = None,
    ) -> None:
        self.name = name
        # What ``python -m`` runs: the service's package, or a test's own service module.
        self.module = module or f"ragserve.{name}"
        prefix = env_prefix(name)
        self.env = {
            **os.environ,
            f"{prefix}PORT": str(grpc_port),
            f"{prefix}METRICS_PORT": "0",
            f"{prefix}GRACE_PERIOD_S": "5",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.cwd = cwd
        self.process: subprocess.Popen[str] | None = None
        self.grpc_port = 0
        self.metrics_port = 0
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._serving = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self, timeout_s: float = 60.0, wait_ready: bool = True) -> ServiceProcess:
        # A fresh event and reader per start: the reader of a killed earlier process
        # must not signal (or set the ports of) this one.
        self._serving = threading.Event()
        self.grpc_port = self.metrics_port = 0
        self.lines = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(
            target=self._read_output, args=(self.process, self._serving), daemon=True
        )
        self._reader.start()
        if not self._serving.wait(timeout_s):
            self.kill()
            raise ServiceFailed(f"{self.name} did not start serving:\n{self.log_tail()}")
        if self.process.poll() is not None:
            raise ServiceFailed(f"{self.name} exited at start-up:\n{self.log_tail()}")
        if wait_ready:
            self.wait_ready(timeout_s)
        return self

    def _read_output(self, process: subprocess.Popen[str], serving: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if process is not self.process:
                continue  # a previous incarnation's last words
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
            record = _parse(line)
            if record.get("event") == "serving":
                self.grpc_port = int(record["grpc_port"])
                self.metrics_port = int(record["metrics_port"])
                serving.set()
        serving.set()  # exited: wake the starter so it can report

    def records(self, since: int = 0) -> list[dict[str, Any]]:
        """The JSON records of the log, from line ``since`` on (a ``len(lines)`` taken
        before an event leaves out what was logged before it)."""
        return [r for r in (_parse(line) for line in self.lines[since:]) if r]

    def wait_for_record(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout_s: float = 10.0,
        since: int = 0,
    ) -> dict[str, Any]:
        """The first log record from line ``since`` on that satisfies ``predicate``, waiting
        (by notification, up to ``timeout_s``) for the service to write it: services write
        their log from a thread of their own, a moment after the event it reports."""
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = [r for r in self.records(since) if predicate(r)]
            return bool(found)

        with self._new_line:
            if not self._new_line.wait_for(seen, timeout_s):
                raise AssertionError(
                    f"{self.name} logged no such record in {timeout_s} s:\n{self.log_tail()}"
                )
        return found[0]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.lines[-lines:])

    def wait_ready(self, timeout_s: float = 60.0, service: str = "") -> None:
        """Block until health reports SERVING (watching, not polling in a sleep loop)."""
        deadline = time.monotonic() + timeout_s
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise ServiceFailed(f"{self.name} exited:\n{self.log_tail()}")
                try:
                    for response in stub.Watch(
                        health_pb2.HealthCheckRequest(service=service),
                        timeout=max(0.1, min(5.0, deadline - time.monotonic())),
                    ):
                        if response.status == health_pb2.HealthCheckResponse.SERVING:
                            return
                except grpc.RpcError as error:
                    if error.code() not in (
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                        grpc.StatusCode.UNAVAILABLE,
                    ):
                        raise
        raise ServiceFailed(f"{self.name} not SERVING after {timeout_s}s:\n{self.log_tail()}")

    def wait_exit(self, timeout_s: float = 60.0) -> int:
        """Wait for the process to exit and for its log to be read to the end; returns the
        exit code. The process writes its last lines just before it exits, and the thread
        reading them may not have run yet when ``Popen.wait`` returns."""
        assert self.process is not None
        code = self.process.wait(timeout_s)
        # The reader ends at the pipe's end of file. Bounded: a child the service spawned
        # (retrieval's engine worker) holds the pipe open until it exits too.
        if self._reader is not None:
            self._reader.join(_LOG_DRAIN_S)
        return code

    def check_alive(self) -> None:
        """Fail with the service's last log lines if its process has died."""
        if self.process is not None and self.process.poll() is not None:
            raise ServiceFailed(
                f"{self.name} died with exit code {self.process.returncode}:\n{self.log_tail(80)}"
            )

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait for a graceful exit; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.wait_exit(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise ServiceFailed(f"{self.name} ignored SIGTERM:\n{self.log_tail()}") from None

    def successor(self) -> ServiceProcess:
        """A new, unstarted process of this service with this one's environment, on this
        one's gRPC port: to bring back a killed service where its clients still look for
        it (their channels reconnect to the same address)."""
        if not self.grpc_port:
            raise ServiceFailed(f"{self.name} has no port yet: start it first")
        return ServiceProcess(
            self.name,
            {**self.env, f"{env_prefix(self.name)}PORT": str(self.grpc_port)},
            cwd=self.cwd,
            module=self.module,
        )

    def spawned_children(self) -> list[int]:
        """The live children this service started with multiprocessing's spawn (e.g.
        retrieval's embedded engine worker), for tests that signal them. A killed child
        not yet reaped has no command line any more, so it is left out."""
        if self.process is None or self.process.poll() is not None:
            return []
        children = [
            int(child)
            for task in Path(f"/proc/{self.process.pid}/task").iterdir()
            for child in _read_bytes(task / "children").split()
        ]
        return [
            pid for pid in children if b"spawn_main" in _read_bytes(Path(f"/proc/{pid}/cmdline"))
        ]

    def kill(self) -> None:
        """SIGKILL: the crash case (no flush, no goodbye)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            self.kill()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the thread or process is gone meanwhile
        return b""


def _parse(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}
