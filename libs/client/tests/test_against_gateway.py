"""Both clients against a real gateway process (testkit: a Redis server for its rate
limits, the gateway on port 0 awaited through its health): key management, the
gateway's own errors, a shared rate limit retried after the advised delay, and an
unreachable orchestrator. No orchestrator runs: the gateway answers UNAVAILABLE for
the RPCs it would forward, as it does when the suite behind it is down."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from clients import Driver

from ragserve.client import (
    Client,
    InvalidArgument,
    Permission,
    PermissionDenied,
    ResourceExhausted,
    RetryPolicy,
    Unauthenticated,
    Unavailable,
)
from ragserve.client.retry import NO_RETRY
from ragserve.testkit.gateway import admin_key, gateway_env, start_gateway
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

pytestmark = pytest.mark.slow

RATE = 5.0  # requests/s per key, a burst of one second
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class RealGateway:
    process: ServiceProcess
    admin: str

    @property
    def address(self) -> str:
        return self.process.address

    def key(self, tenant: str, *permissions: str) -> str:
        """A new key of ``tenant`` (the bootstrap admin's calls are retried when limited)."""
        with Client(self.address, self.admin) as admin:
            return admin.create_key(tenant, permissions, timeout=30).secret


@pytest.fixture(scope="module")
def real_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealGateway]:
    state = tmp_path_factory.mktemp("sdk-gateway")
    with RedisServer() as redis:
        env = gateway_env(state, redis.url, requests_per_s=str(RATE), burst_s="1")
        process = start_gateway(env)
        try:
            yield RealGateway(process, admin_key(state))
        finally:
            process.stop()


def test_keys_are_created_listed_and_revoked(real_gateway: RealGateway, kind: str) -> None:
    tenant = f"sdk-keys-{kind}"
    with Driver(kind, real_gateway.address, real_gateway.key(tenant, "admin")) as client:
        created = client.create_key(tenant, ["read", Permission.WRITE], description="d", ttl_s=3600)
        assert created.secret.startswith("rsk_")
        key = created.key
        assert (key.tenant, key.permissions, key.description) == (
            tenant,
            (Permission.READ, Permission.WRITE),
            "d",
        )
        assert key.created_at is not None and key.expires_at is not None
        assert 3599 <= (key.expires_at - key.created_at).total_seconds() <= 3601
        assert key.id in [k.id for k in client.list_keys(tenant)]
        revoked = client.revoke_key(key.id)
        assert revoked.id == key.id and revoked.revoked_at is not None
        assert key.id not in [k.id for k in client.list_keys(tenant)]
        listed = {k.id: k for k in client.list_keys(tenant, include_revoked=True)}
        assert listed[key.id].revoked_at is not None


def test_the_gateway_s_refusals_are_typed_errors(
    real_gateway: RealGateway, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAGSERVE_API_KEY", raising=False)
    with Driver(kind, real_gateway.address) as anonymous, pytest.raises(Unauthenticated) as no_key:
        anonymous.list_keys()
    assert no_key.value.message == (
        "missing API key: send the metadata 'authorization: Bearer <key>'"
    )
    assert no_key.value.trace_id is not None and TRACE_ID.match(no_key.value.trace_id)

    reader = real_gateway.key(f"sdk-errors-{kind}", "read")
    with Driver(kind, real_gateway.address, reader) as client:
        with pytest.raises(PermissionDenied) as denied:
            client.create_key("anyone", ["read"])
        assert denied.value.message == "this API key lacks the 'admin' permission (it has: read)"
    with Driver(kind, real_gateway.address, real_gateway.admin) as admin:
        with pytest.raises(InvalidArgument) as invalid:
            admin.create_key("not a tenant!", ["read"], timeout=30)
        assert invalid.value.field == "tenant"
        assert "is not a valid tenant" in invalid.value.message


def test_a_rate_limit_is_retried_after_the_advised_delay(
    real_gateway: RealGateway, kind: str
) -> None:
    tenant = f"sdk-limit-{kind}"
    key = real_gateway.key(tenant, "admin")
    with (
        Driver(kind, real_gateway.address, key, retry=NO_RETRY) as once,
        pytest.raises(ResourceExhausted) as limited,
    ):
        for _ in range(int(RATE) * 3):
            once.list_keys(tenant)
    delay = limited.value.retry_delay_s
    assert delay is not None and 0 < delay <= 1 / RATE + 0.05
    # The bucket is empty: ten calls at RATE/s need about two seconds, and every one of
    # them succeeds because the refusals are retried inside the deadline.
    started = time.monotonic()
    with Driver(kind, real_gateway.address, key, retry=RetryPolicy(max_attempts=20)) as client:
        for _ in range(10):
            client.list_keys(tenant, timeout=30)
    assert time.monotonic() - started >= 1.0


def test_an_unreachable_orchestrator_is_unavailable_after_the_retries(
    real_gateway: RealGateway, kind: str
) -> None:
    key = real_gateway.key(f"sdk-down-{kind}", "read")
    policy = RetryPolicy(max_attempts=2, initial_backoff_s=0.01)
    with Driver(kind, real_gateway.address, key, retry=policy) as client:
        with pytest.raises(Unavailable) as unary:
            client.get_collection("docs", timeout=20)
        with pytest.raises(Unavailable) as stream:
            client.events("q", "docs", timeout=20)
    for caught in (unary, stream):
        assert caught.value.message == "the orchestrator is unavailable; retry shortly"
        assert caught.value.trace_id is not None and TRACE_ID.match(caught.value.trace_id)
