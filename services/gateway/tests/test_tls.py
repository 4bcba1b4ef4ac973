"""TLS on the gateway's port with a certificate the test makes (openssl CLI)."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.testkit.gateway import admin_key, bearer, gateway_env, make_certificate
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

pytestmark = pytest.mark.slow


def _wait_serving(channel: grpc.Channel, timeout_s: float = 60.0) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            for update in stub.Watch(health_pb2.HealthCheckRequest(), timeout=5):
                if update.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError as error:
            if error.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
                raise
    raise TimeoutError("gateway not SERVING over TLS")


def test_the_port_speaks_tls_only(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    with RedisServer() as redis:
        env = gateway_env(tmp_path, redis.url, tls_cert_file=str(cert), tls_key_file=str(key))
        gateway = ServiceProcess("gateway", env).start(wait_ready=False)
        try:
            credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
            with grpc.secure_channel(f"localhost:{gateway.grpc_port}", credentials) as channel:
                _wait_serving(channel)
                stub = pb_grpc.GatewayServiceStub(channel)
                listed = stub.ListApiKeys(
                    pb.ListApiKeysRequest(), metadata=bearer(admin_key(tmp_path)), timeout=10
                )
                assert [k.description for k in listed.keys] == ["bootstrap admin key"]
            # A plaintext client gets no further than the handshake.
            with grpc.insecure_channel(gateway.address) as plain:
                with pytest.raises(grpc.RpcError) as raised:
                    pb_grpc.GatewayServiceStub(plain).ListApiKeys(
                        pb.ListApiKeysRequest(), metadata=bearer(admin_key(tmp_path)), timeout=5
                    )
                assert raised.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        finally:
            gateway.stop()
