"""The suite's health for ``ragserve status``.

Today each service's ``grpc.health.v1`` is asked directly (and Redis is pinged).
The monitor service will own the suite's status (SLOs, alerts); it then becomes
another :class:`StatusSource` and ``ragserve status`` asks it first, falling back
to these probes when it does not answer.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ragserve.client.cli.launcher import REDIS_PORT, SERVICES, env_prefix, installed


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    # "serving", "not_serving", "unreachable", "unknown".
    status: str
    latency_ms: float | None
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.status == "serving"


class StatusSource(Protocol):
    def snapshot(self, timeout_s: float) -> list[ServiceStatus]: ...


class HealthProbes:
    """Asks every service at its configured address (RAGSERVE_<SERVICE>_ADDR or the default)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def targets(self) -> list[tuple[str, str]]:
        # The services installed here, or named by an address; a machine with only the
        # SDK installed gets every service at its default address.
        specs = [
            s for s in SERVICES if installed(s.name) or env_prefix(s.name) + "ADDR" in self.environ
        ]
        targets = []
        for spec in specs or SERVICES:
            address = self.environ.get(env_prefix(spec.name) + "ADDR")
            if not address:
                port = self.environ.get(env_prefix(spec.name) + "PORT") or spec.grpc_port
                address = f"localhost:{port}"
            targets.append((spec.name, address))
        return targets

    def redis_address(self) -> str:
        url = self.environ.get("RAGSERVE_REDIS_URL")
        if url:
            parsed = urlparse(url)
            return f"{parsed.hostname or 'localhost'}:{parsed.port or REDIS_PORT}"
        return f"localhost:{self.environ.get('RAGSERVE_REDIS_PORT', REDIS_PORT)}"

    def snapshot(self, timeout_s: float = 2.0) -> list[ServiceStatus]:
        with ThreadPoolExecutor(max_workers=8) as pool:
            services = list(
                pool.map(
                    lambda target: probe_health(target[0], target[1], timeout_s), self.targets()
                )
            )
            redis = probe_redis(self.redis_address(), timeout_s)
        return [redis, *services]


def probe_health(name: str, address: str, timeout_s: float) -> ServiceStatus:
    started = time.perf_counter()
    with grpc.insecure_channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout_s
            )
        except grpc.RpcError as error:
            code = error.code()
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return ServiceStatus(name, address, "unreachable", None, "nothing answers")
            return ServiceStatus(name, address, "unknown", None, f"{code.name}")
    latency_ms = (time.perf_counter() - started) * 1000
    if response.status == health_pb2.HealthCheckResponse.SERVING:
        return ServiceStatus(name, address, "serving", latency_ms)
    status_name = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return ServiceStatus(name, address, "not_serving", latency_ms, status_name)


def probe_redis(address: str, timeout_s: float) -> ServiceStatus:
    host, port = address.rsplit(":", 1)
    started = time.perf_counter()
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as connection:
            connection.sendall(b"PING\r\n")
            answer = connection.recv(64)
    except OSError as error:
        return ServiceStatus("redis", address, "unreachable", None, str(error))
    latency_ms = (time.perf_counter() - started) * 1000
    if answer.startswith(b"+PONG"):
        return ServiceStatus("redis", address, "serving", latency_ms)
    return ServiceStatus(
        "redis", address, "not_serving", latency_ms, answer.decode(errors="replace").strip()
    )
