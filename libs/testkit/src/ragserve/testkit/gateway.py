"""Gateways as real processes for tests, and calling them as a client would."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc as orch_grpc
from ragserve.runtime.errors import retry_after_s
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

T = TypeVar("T")

# What a client retries (as the SDK does): the key store (Redis) unreachable for a moment,
# or a rate limit.
RETRIED_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
# Seconds a call may take in all, its retries included, and each attempt at most.
CALL_DEADLINE_S = 30.0
ATTEMPT_TIMEOUT_S = 10.0


def gateway_env(
    state: Path, redis_url: str, *, key_store: str = "file", **extra: str
) -> dict[str, str]:
    """A gateway's environment: its state under ``state``, a generated bootstrap admin key."""
    return {
        "RAGSERVE_GATEWAY_REDIS_URL": redis_url,
        "RAGSERVE_GATEWAY_KEY_STORE": key_store,
        "RAGSERVE_GATEWAY_KEY_STORE_PATH": str(state / "api-keys.json"),
        "RAGSERVE_GATEWAY_BOOTSTRAP_KEY_FILE": str(state / "admin.key"),
        "RAGSERVE_GATEWAY_BOOTSTRAP_KEY_CREATE": "true",
        # Nothing listens here unless a test starts an orchestrator / router.
        "RAGSERVE_ORCHESTRATOR_ADDR": "127.0.0.1:1",
        "RAGSERVE_EMBEDDING_ROUTER_ADDR": "127.0.0.1:1",
        **{f"RAGSERVE_GATEWAY_{k.upper()}": v for k, v in extra.items()},
    }


def admin_key(state: Path) -> str:
    return (state / "admin.key").read_text().strip()


def bearer(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


@contextmanager
def gateway_stub(address: str) -> Iterator[pb_grpc.GatewayServiceStub]:
    with grpc.insecure_channel(address) as channel:
        yield pb_grpc.GatewayServiceStub(channel)


def as_client(call: Callable[[float], T], deadline_s: float = CALL_DEADLINE_S) -> T:
    """``call(timeout_s)`` retried as a real client retries it, for a test's set-up.

    The gateway answers UNAVAILABLE when one Redis command of its key store takes longer
    than its Redis timeout (0.5 s; a busy host does that now and then) and RESOURCE_EXHAUSTED
    over a rate limit: both say "retry", so a test that only needs the call to happen must
    not fail on them. Retried after the server's ``retry-after-ms`` when it sent one, else
    after a doubling back-off, within ``deadline_s`` in all; any other status, or the
    deadline, raises the call's last error.
    """
    deadline = time.monotonic() + deadline_s
    backoff_s = 0.05
    while True:
        remaining_s = deadline - time.monotonic()
        try:
            return call(min(ATTEMPT_TIMEOUT_S, max(remaining_s, 0.1)))
        except grpc.RpcError as error:
            if not isinstance(error, grpc.Call) or error.code() not in RETRIED_CODES:
                raise
            advised_s = retry_after_s(error.trailing_metadata())
            wait_s = advised_s if advised_s is not None else backoff_s
            if time.monotonic() + wait_s >= deadline:
                raise
            # A client's back-off between attempts, not a wait for an event.
            time.sleep(wait_s)
            backoff_s = min(backoff_s * 2, 1.0)


def create_key(
    stub: pb_grpc.GatewayServiceStub,
    admin: str,
    tenant: str,
    permissions: list[pb.Permission],
    **fields: Any,
) -> pb.CreateApiKeyResponse:
    """A new key, created as a client would (retried while the gateway says so)."""
    request = pb.CreateApiKeyRequest(tenant=tenant, permissions=permissions, **fields)
    response: pb.CreateApiKeyResponse = as_client(
        lambda timeout_s: stub.CreateApiKey(request, metadata=bearer(admin), timeout=timeout_s)
    )
    return response


def start_gateway(env: Mapping[str, str], timeout_s: float = 60.0) -> ServiceProcess:
    return ServiceProcess("gateway", env).start(timeout_s)


def metric(process: ServiceProcess, series: str) -> float:
    """One sample from the process's /metrics, e.g. ``name{label="x"}`` (0 when absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{process.metrics_port}/metrics") as page:
        text = page.read().decode()
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    return 0.0


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1, made with the openssl CLI."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@dataclass
class GatewayBefore:
    """A real gateway process (and a real Redis) in front of a stand-in orchestrator: a gRPC
    server in the test process whose servicer the test writes, for what a real
    orchestrator cannot be made to do on cue."""

    process: ServiceProcess
    stub: pb_grpc.GatewayServiceStub
    key: str  # of tenant "acme", with the permissions asked for


@contextmanager
def gateway_before(
    orchestrator: orch_grpc.OrchestratorServiceServicer,
    state: Path,
    permissions: list[Any],
    **settings: str,
) -> Iterator[GatewayBefore]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    orch_grpc.add_OrchestratorServiceServicer_to_server(orchestrator, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with RedisServer() as redis:
            env = gateway_env(state, redis.url, **settings)
            env["RAGSERVE_ORCHESTRATOR_ADDR"] = f"127.0.0.1:{port}"
            # No exporter, whatever the environment running the tests says.
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = ""
            process = start_gateway(env)
            try:
                with gateway_stub(process.address) as stub:
                    key = create_key(stub, admin_key(state), "acme", permissions).secret
                    yield GatewayBefore(process, stub, key)
            finally:
                process.stop()
    finally:
        server.stop(None)
