"""The gateway as the shared runtime runs it: key store, rate limiter, channels to the suite."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc

from ragserve.api.embedding.v1 import embedding_pb2_grpc as emb_grpc
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc as orch_grpc
from ragserve.gateway.auth import Authenticator
from ragserve.gateway.core import GatewayCore
from ragserve.gateway.key_admin import KeyAdmin, read_or_create_key_file
from ragserve.gateway.key_store import FileKeyStore, KeyStore, RedisKeyStore
from ragserve.gateway.keys import KeyHasher
from ragserve.gateway.limits import Limit
from ragserve.gateway.rate_limit import RateLimiter, Rates
from ragserve.gateway.redis_link import RedisLink
from ragserve.gateway.servicer import GatewayServicer, register
from ragserve.gateway.settings import GatewaySettings
from ragserve.gateway.tracing import configure_edge_tracing
from ragserve.runtime.channels import create_channel
from ragserve.runtime.server import Health
from ragserve.runtime.settings import service_address

log = logging.getLogger(__name__)

ORCHESTRATOR_PORT = 50052
EMBEDDING_ROUTER_PORT = 50053


def build_key_store(settings: GatewaySettings, link: RedisLink) -> KeyStore:
    if settings.key_store == "redis":
        return RedisKeyStore(link)
    return FileKeyStore(settings.key_store_path.resolve())


class GatewayService:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        configure_edge_tracing()
        self.link = RedisLink(
            settings.redis_url, settings.redis_timeout_s, settings.redis_retry_interval_s
        )
        self.store = build_key_store(settings, self.link)
        hasher = KeyHasher(settings.hash_secret())
        authenticator = Authenticator(
            self.store,
            hasher,
            cache_ttl_s=settings.key_cache_ttl_s,
            stale_ttl_s=settings.key_stale_ttl_s,
        )
        limiter = RateLimiter(
            self.link,
            Rates(
                {
                    Limit.REQUESTS: settings.requests_per_s,
                    Limit.TEXTS: settings.texts_per_s,
                    Limit.INGEST_BYTES: settings.ingest_bytes_per_s,
                },
                settings.burst_s,
            ),
            local_share=settings.local_limit_share,
            lease_s=settings.rate_limit_lease_s,
        )
        self.limiter = limiter
        self.core = GatewayCore(authenticator, limiter)
        self.keys = KeyAdmin(self.store, hasher, authenticator)
        self._channels: list[grpc.aio.Channel] = []

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        # Called in the server's event loop: aio channels belong to the loop they start in.
        orchestrator = create_channel(service_address("orchestrator", ORCHESTRATOR_PORT))
        router = create_channel(service_address("embedding_router", EMBEDDING_ROUTER_PORT))
        self._channels = [orchestrator, router]
        return register(
            server,
            GatewayServicer(
                self.core,
                self.keys,
                orch_grpc.OrchestratorServiceStub(orchestrator),
                emb_grpc.EmbeddingRouterServiceStub(router),
                self.settings.default_model,
            ),
        )

    def server_credentials(self) -> grpc.ServerCredentials | None:
        """TLS on the public port when a certificate and key are configured."""
        if self.settings.tls_cert_file is None or self.settings.tls_key_file is None:
            return None
        return grpc.ssl_server_credentials(
            [(self.settings.tls_key_file.read_bytes(), self.settings.tls_cert_file.read_bytes())]
        )

    def bootstrap_key(self) -> str | None:
        if self.settings.bootstrap_key_file is not None:
            return read_or_create_key_file(
                self.settings.bootstrap_key_file.resolve(), self.settings.bootstrap_key_create
            )
        return self.settings.bootstrap_key.get_secret_value() or None

    async def start(self, health: Health) -> None:
        self.link.start()
        key = self.bootstrap_key()
        if key is not None:
            # SERVING promises that the configured admin key works: NOT_SERVING until the
            # store has its record (with the Redis store, until Redis answers). A replica
            # starting while Redis is down could verify no key anyway (its cache is empty),
            # and the replicas already serving keep serving from theirs.
            await self.keys.register_bootstrap(
                key, self.settings.bootstrap_tenant, self.settings.redis_retry_interval_s
            )
        await health.set_serving(True)

    async def stop(self) -> None:
        for channel in self._channels:
            await channel.close(None)
        await self.limiter.close()
        await self.store.close()
        await self.link.close()
