"""Settings of the gateway, from ``RAGSERVE_GATEWAY_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GRPC_PORT = 50051
METRICS_PORT = 9151


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGSERVE_GATEWAY_", frozen=True, extra="ignore")

    # Redis shared by gateway replicas: rate-limit counters, and API keys when key_store=redis.
    redis_url: str = "redis://localhost:6379/0"
    # Seconds one Redis command may take before the gateway treats Redis as down.
    redis_timeout_s: float = Field(default=0.5, gt=0, le=10)
    # Seconds the gateway serves without Redis (local limits, cached keys) after a
    # failure before it tries Redis again.
    redis_retry_interval_s: float = Field(default=1.0, gt=0, le=60)

    # Where API keys live: "file" (one node; the local default, survives restarts of
    # the suite) or "redis" (shared by replicas; run Redis with AOF persistence).
    key_store: Literal["file", "redis"] = "file"
    # The file of the file store (JSON, written atomically, mode 0600).
    key_store_path: Path = Path("./var/gateway/api-keys.json")
    # Server secret of the key hashes (HMAC-SHA256); empty = plain SHA-256. Changing it
    # invalidates every key hashed with the old one.
    key_hash_secret: SecretStr = SecretStr("")
    # A file holding key_hash_secret (a mounted secret); wins over key_hash_secret.
    key_hash_secret_file: Path | None = None
    # Seconds a replica trusts a key record it read from the store; revocation reaches
    # every replica within this (the API promises 2 s).
    key_cache_ttl_s: float = Field(default=1.0, gt=0, le=2.0)
    # Seconds a cached key record still verifies calls while the key store is unreachable.
    key_stale_ttl_s: float = Field(default=300.0, ge=0, le=86_400)

    # A bootstrap admin key (the full `rsk_...` key), registered at start-up.
    bootstrap_key: SecretStr = SecretStr("")
    # A file holding the bootstrap admin key (a mounted secret); wins over bootstrap_key.
    bootstrap_key_file: Path | None = None
    # When bootstrap_key_file does not exist: generate a key and write it there (mode 0600).
    # The local launcher sets this so the first start creates an admin key.
    bootstrap_key_create: bool = False
    # Tenant of the bootstrap key.
    bootstrap_tenant: str = Field(default="admin", pattern=r"^[A-Za-z0-9_-]{1,64}$")

    # Rate limits per API key, shared by every replica through Redis (token buckets).
    # Calls per second (every RPC; an ingest stream counts once).
    requests_per_s: float = Field(default=200.0, gt=0, le=1_000_000)
    # Texts per second: each text of an Embed, the query of a Query or Search.
    texts_per_s: float = Field(default=2_000.0, gt=0, le=10_000_000)
    # Ingested content bytes per second (documents of Ingest streams).
    ingest_bytes_per_s: float = Field(default=16 * 1024 * 1024, gt=0, le=1e12)
    # Bucket depth in seconds of each rate: how large a burst is admitted at once.
    burst_s: float = Field(default=1.0, gt=0, le=60)
    # Seconds of each rate a replica takes from the shared bucket at a time and admits
    # calls from without waiting on Redis (at most a quarter of the burst; 0 = every call
    # asks Redis). Replicas never take more than the limit from the bucket, but each may
    # hold about two leases unspent: admitted calls can run that far above the limit in a
    # short window, or below it when a replica stops spending.
    rate_limit_lease_s: float = Field(default=0.05, ge=0, le=1)
    # Share of each limit a replica grants on its own while Redis is down (e.g. 1/N
    # for N replicas; 1 = each replica grants the whole limit).
    local_limit_share: float = Field(default=1.0, gt=0, le=1)

    # TLS on the gRPC port when both are set (PEM files).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    # The embedding model of a collection created without one.
    default_model: str = Field(default="all-minilm-l6-v2", min_length=1, max_length=128)

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError(
                "RAGSERVE_GATEWAY_TLS_CERT_FILE and RAGSERVE_GATEWAY_TLS_KEY_FILE go together"
            )
        return self

    def hash_secret(self) -> bytes:
        if self.key_hash_secret_file is not None:
            return self.key_hash_secret_file.read_text().strip().encode()
        return self.key_hash_secret.get_secret_value().encode()
