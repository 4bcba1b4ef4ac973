"""API keys: their format, their stored form, and how one is checked.

A key is ``rsk_<id>_<secret>``: ``id`` is 16 hex digits (64 random bits, public: it
names the key in listings, revocation and rate-limit counters) and ``secret`` is 43
base64url characters (256 random bits). The whole key is shown once, at creation;
the store keeps only a hash of it — HMAC-SHA256 with the server's secret when one is
configured, plain SHA-256 otherwise — compared in constant time. A key that does not
have this shape is malformed before any store is asked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

PREFIX = "rsk_"
_KEY = re.compile(r"rsk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
ID_PATTERN = re.compile(r"[0-9a-f]{16}")
TENANT_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
SECRET_BYTES = 32


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


ALL_PERMISSIONS = frozenset(Permission)


def generate_key() -> tuple[str, str]:
    """A new key: (id, full key). The full key must be shown once and then forgotten."""
    key_id = secrets.token_hex(8)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()
    return key_id, f"{PREFIX}{key_id}_{secret}"


def key_id_of(key: str) -> str | None:
    """The id of a well-formed key; None when it is malformed."""
    match = _KEY.fullmatch(key)
    return match.group(1) if match else None


class KeyHasher:
    """Hashes keys for storage and checks a presented key against a stored hash."""

    def __init__(self, server_secret: bytes = b"") -> None:
        self._secret = server_secret
        self.algorithm = "hmac-sha256" if server_secret else "sha256"

    def hash(self, key: str) -> str:
        if self._secret:
            # OpenSSL's one-shot HMAC (what hmac.new computes, without the Python object).
            return hmac.digest(self._secret, key.encode(), "sha256").hex()
        return hashlib.sha256(key.encode()).hexdigest()

    def matches(self, key: str, record: KeyRecord) -> bool:
        """Constant-time comparison; a record hashed with another algorithm never matches."""
        if record.hash_algorithm != self.algorithm:
            return False
        return hmac.compare_digest(self.hash(key).encode(), record.key_hash.encode())


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What the store keeps of a key (never the key itself). Times are Unix seconds."""

    id: str
    tenant: str
    permissions: frozenset[Permission]
    key_hash: str
    hash_algorithm: str
    created_at: float
    description: str = ""
    expires_at: float | None = None
    revoked_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def revoked(self, now: float) -> KeyRecord:
        return self if self.revoked_at is not None else replace(self, revoked_at=now)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "permissions": sorted(p.value for p in self.permissions),
            "key_hash": self.key_hash,
            "hash_algorithm": self.hash_algorithm,
            "created_at": self.created_at,
            "description": self.description,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> KeyRecord:
        return KeyRecord(
            id=str(data["id"]),
            tenant=str(data["tenant"]),
            permissions=frozenset(Permission(p) for p in data["permissions"]),
            key_hash=str(data["key_hash"]),
            hash_algorithm=str(data["hash_algorithm"]),
            created_at=float(data["created_at"]),
            description=str(data.get("description", "")),
            expires_at=None if data.get("expires_at") is None else float(data["expires_at"]),
            revoked_at=None if data.get("revoked_at") is None else float(data["revoked_at"]),
        )


def new_record(
    hasher: KeyHasher,
    tenant: str,
    permissions: frozenset[Permission],
    now: float,
    *,
    description: str = "",
    ttl_s: float | None = None,
    key: str | None = None,
) -> tuple[KeyRecord, str]:
    """A record for a fresh key (or for ``key``, e.g. a bootstrap key), and the key."""
    if key is None:
        key_id, key = generate_key()
    else:
        parsed = key_id_of(key)
        if parsed is None:
            raise ValueError("not a ragserve API key (expected rsk_<16 hex>_<43 base64url>)")
        key_id = parsed
    record = KeyRecord(
        id=key_id,
        tenant=tenant,
        permissions=permissions,
        key_hash=hasher.hash(key),
        hash_algorithm=hasher.algorithm,
        created_at=now,
        description=description,
        expires_at=None if ttl_s is None else now + ttl_s,
    )
    return record, key
