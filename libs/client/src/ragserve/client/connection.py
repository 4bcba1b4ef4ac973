"""Where the gateway is and how to reach it: address, API key, TLS, from arguments or env.

``RAGSERVE_GATEWAY_ADDR`` (default ``localhost:50051``), ``RAGSERVE_API_KEY``,
``RAGSERVE_TLS`` (``1`` = TLS with the system's roots) and ``RAGSERVE_TLS_CA_FILE``
(PEM roots, e.g. a self-signed certificate; implies TLS).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

DEFAULT_ADDRESS = "localhost:50051"
ADDRESS_ENV = "RAGSERVE_GATEWAY_ADDR"
API_KEY_ENV = "RAGSERVE_API_KEY"
TLS_ENV = "RAGSERVE_TLS"
CA_FILE_ENV = "RAGSERVE_TLS_CA_FILE"
# The gateway's own limit; a client that allowed less could not read a full page of hits.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Connection:
    address: str
    api_key: str | None
    tls: bool = False
    root_certificates: bytes | None = None

    @classmethod
    def resolve(
        cls,
        address: str | None = None,
        api_key: str | None = None,
        *,
        tls: bool | None = None,
        ca_file: Path | str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Connection:
        """Arguments first, then the environment, then the defaults."""
        env = os.environ if environ is None else environ
        ca_path = ca_file or env.get(CA_FILE_ENV) or None
        roots = Path(ca_path).read_bytes() if ca_path else None
        if tls is None:
            tls = roots is not None or env.get(TLS_ENV, "").lower() in {"1", "true", "yes"}
        return cls(
            address=address or env.get(ADDRESS_ENV) or DEFAULT_ADDRESS,
            api_key=api_key or env.get(API_KEY_ENV) or None,
            tls=tls,
            root_certificates=roots,
        )

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.api_key}"),) if self.api_key else ()

    def _options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]

    def channel(self) -> grpc.Channel:
        if self.tls:
            credentials = grpc.ssl_channel_credentials(self.root_certificates)
            return grpc.secure_channel(self.address, credentials, options=self._options())
        return grpc.insecure_channel(self.address, options=self._options())

    def aio_channel(self) -> grpc.aio.Channel:
        if self.tls:
            credentials = grpc.ssl_channel_credentials(self.root_certificates)
            return grpc.aio.secure_channel(self.address, credentials, options=self._options())
        return grpc.aio.insecure_channel(self.address, options=self._options())


class Deadline:
    """A call's deadline as a monotonic instant; ``None`` seconds = no deadline of ours."""

    def __init__(self, timeout_s: float | None) -> None:
        self._at = None if timeout_s is None else time.monotonic() + timeout_s

    def remaining(self) -> float | None:
        if self._at is None:
            return None
        return max(0.0, self._at - time.monotonic())
