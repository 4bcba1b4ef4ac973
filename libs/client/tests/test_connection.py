"""Address, key and TLS from arguments or the environment; a TLS gateway verified by its CA."""

from __future__ import annotations

from concurrent import futures
from pathlib import Path

import grpc
import pytest
from scripted_gateway import Script, ScriptedGateway

from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.client import Client, Connection, Unavailable
from ragserve.testkit.gateway import make_certificate


def test_environment_gives_address_key_and_tls(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"roots")
    env = {
        "RAGSERVE_GATEWAY_ADDR": "gw:7000",
        "RAGSERVE_API_KEY": "rsk_k",
        "RAGSERVE_TLS_CA_FILE": str(ca),
    }
    connection = Connection.resolve(environ=env)
    assert (connection.address, connection.api_key, connection.tls) == ("gw:7000", "rsk_k", True)
    assert connection.root_certificates == b"roots"
    assert connection.metadata() == (("authorization", "Bearer rsk_k"),)
    explicit = Connection.resolve("other:1", "rsk_x", tls=False, environ=env)
    assert (explicit.address, explicit.api_key, explicit.tls) == ("other:1", "rsk_x", False)
    default = Connection.resolve(environ={})
    assert (default.address, default.api_key, default.tls) == ("localhost:50051", None, False)
    assert default.metadata() == ()


def test_tls_gateway_with_a_private_ca(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_GatewayServiceServicer_to_server(ScriptedGateway(Script()), server)
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        with Client(f"127.0.0.1:{port}", "k", ca_file=cert) as client:
            assert client.create_collection("docs", timeout=10).name == "docs"
        # Plain text to a TLS port does not get through.
        plain = Client(f"127.0.0.1:{port}", "k", tls=False)
        with plain, pytest.raises(Unavailable):
            plain.create_collection("docs", timeout=3)
    finally:
        server.stop(None)
