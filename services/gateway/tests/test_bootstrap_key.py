"""The bootstrap admin key when the key store (Redis) does not answer as the gateway starts:
NOT_SERVING, and the key UNAVAILABLE (retry), until its record is in the store; SERVING
then, with the key working from the first call. Redis is stopped with SIGSTOP, as a
stalled server looks: connections open, no command answered."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.testkit.gateway import admin_key, as_client, bearer, gateway_env
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

pytestmark = pytest.mark.slow


def test_the_gateway_serves_once_its_bootstrap_key_is_registered(tmp_path: Path) -> None:
    with RedisServer() as redis:
        assert redis.process is not None
        gateway = ServiceProcess("gateway", gateway_env(tmp_path, redis.url, key_store="redis"))
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            gateway.start(wait_ready=False)
            # The registration's first read has run into the Redis timeout.
            gateway.wait_for_record(lambda r: r.get("event") == "redis_down", 60)
            with grpc.insecure_channel(gateway.address) as channel:
                health = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=10
                )
                assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
                with pytest.raises(grpc.RpcError) as raised:
                    pb_grpc.GatewayServiceStub(channel).ListApiKeys(
                        pb.ListApiKeysRequest(), metadata=bearer(admin_key(tmp_path)), timeout=10
                    )
                assert (raised.value.code(), raised.value.details()) == (  # type: ignore[attr-defined]
                    grpc.StatusCode.UNAVAILABLE,
                    "this API key is not registered yet: the key store is unreachable; "
                    "retry shortly",
                )
            waiting = gateway.wait_for_record(lambda r: r.get("event") == "bootstrap_key_waiting")
            assert waiting["level"] == "WARNING"
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        try:
            gateway.wait_ready(60)
            with grpc.insecure_channel(gateway.address) as channel:
                stub = pb_grpc.GatewayServiceStub(channel)
                # Retried only where the gateway says "retry" (the listing reads Redis):
                # "unknown API key" here would fail the test.
                listed = as_client(
                    lambda t: stub.ListApiKeys(
                        pb.ListApiKeysRequest(tenant="admin"),
                        metadata=bearer(admin_key(tmp_path)),
                        timeout=t,
                    )
                )
            assert [k.description for k in listed.keys] == ["bootstrap admin key"]
            gateway.wait_for_record(lambda r: r.get("event") == "bootstrap_key", 10)
        finally:
            gateway.stop()
