"""The replicas the monitor watches: service name, gRPC address, metrics address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ragserve.runtime.settings import service_address

# Default gRPC and metrics ports (DESIGN.md's table). The monitor imports no service, so
# the table is repeated here; a test compares it with the services' settings.py.
DEFAULT_PORTS: dict[str, tuple[int, int]] = {
    "gateway": (50051, 9151),
    "orchestrator": (50052, 9152),
    "embedding_router": (50053, 9153),
    "retrieval": (50054, 9154),
    "inference": (8001, 8002),
    "monitor": (50056, 9156),
}
SERVICES = tuple(DEFAULT_PORTS)


@dataclass(frozen=True)
class Target:
    service: str
    address: str  # host:port of the gRPC server
    metrics_address: str  # host:port of /metrics
    # A name whose DNS records are the replicas (a Kubernetes headless Service): the
    # monitor resolves it again and again and watches every address it returns.
    discover: bool = False

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def metrics_port(self) -> int:
        return int(self.metrics_address.rsplit(":", 1)[1])

    def replica(self, ip: str) -> Target:
        """The replica at ``ip`` of a discovered target."""
        host = f"[{ip}]" if ":" in ip else ip
        return Target(self.service, f"{host}:{self.port}", f"{host}:{self.metrics_port}")


def _split_host_port(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{what} {text!r} is not host:port")
    return host, int(port)


def parse_targets(text: str, environ: Mapping[str, str] | None = None) -> tuple[Target, ...]:
    """``service=host:port/metrics_port,...``; empty: every service on its default address.

    ``service=dns+name:port/metrics_port`` watches every address ``name`` resolves to."""
    if not text.strip():
        return default_targets(environ)
    targets = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        service, sep, rest = entry.partition("=")
        if not sep or service not in DEFAULT_PORTS:
            raise ValueError(
                f"entry {entry[:80]!r}: expected service=host:port/metrics_port with service "
                f"one of {', '.join(SERVICES)}"
            )
        discover = rest.startswith("dns+")
        address, slash, metrics_port = rest.removeprefix("dns+").partition("/")
        host, _ = _split_host_port(address, f"entry {entry[:80]!r}: address")
        if not slash or not metrics_port.isdigit() or not 0 < int(metrics_port) < 65536:
            raise ValueError(f"entry {entry[:80]!r}: metrics port missing after '/'")
        targets.append(Target(service, address, f"{host}:{metrics_port}", discover))
    if not targets:
        raise ValueError("no targets")
    return tuple(targets)


def default_targets(environ: Mapping[str, str] | None = None) -> tuple[Target, ...]:
    targets = []
    for service, (grpc_port, metrics_port) in DEFAULT_PORTS.items():
        address = service_address(service, grpc_port, environ)
        host, _ = _split_host_port(address, f"RAGSERVE_{service.upper()}_ADDR")
        targets.append(Target(service, address, f"{host}:{metrics_port}"))
    return tuple(targets)
