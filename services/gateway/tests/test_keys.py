"""Keys, their stored form, the file store and the ack watermark: pure logic, no servers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ragserve.errors import Unauthenticated, Unavailable
from ragserve.gateway.auth import Authenticator
from ragserve.gateway.key_store import FileKeyStore
from ragserve.gateway.keys import KeyHasher, Permission, generate_key, key_id_of, new_record
from ragserve.gateway.servicer import AckTracker


def test_a_key_has_256_random_bits_and_its_id_inside() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    for key_id, key in keys:
        assert key_id_of(key) == key_id
        assert len(key.split("_", 2)[2]) == 43  # 32 bytes, base64url without padding


@pytest.mark.parametrize(
    "key", ["", "rsk_", "rsk_0123456789abcdeg_" + "A" * 43, "rsk_0123456789abcdef_" + "A" * 42]
)
def test_a_malformed_key_has_no_id(key: str) -> None:
    assert key_id_of(key) is None


def test_hmac_and_sha256_hashes_differ_and_do_not_cross_match() -> None:
    _, key = generate_key()
    plain, keyed = KeyHasher(), KeyHasher(b"server secret")
    record, _ = new_record(keyed, "t", frozenset({Permission.READ}), 0.0, key=key)
    assert record.hash_algorithm == "hmac-sha256" and record.key_hash != plain.hash(key)
    assert keyed.matches(key, record) and not plain.matches(key, record)
    assert not KeyHasher(b"another secret").matches(key, record)


def test_the_file_store_keeps_hashes_only(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys.json")
    hasher = KeyHasher()
    record, key = new_record(hasher, "acme", frozenset(Permission), 1.0, description="x")
    asyncio.run(store.put(record))
    text = (tmp_path / "keys.json").read_text()
    assert key not in text and json.loads(text)["keys"][0]["key_hash"] == hasher.hash(key)
    # A second store on the same file (another process) sees the write.
    assert asyncio.run(FileKeyStore(tmp_path / "keys.json").get(record.id)) == record
    assert asyncio.run(store.get("0" * 16)) is None


def test_a_cached_key_still_verifies_until_the_cache_expires(tmp_path: Path) -> None:
    now = [0.0]
    store = FileKeyStore(tmp_path / "keys.json")
    hasher = KeyHasher()
    record, key = new_record(hasher, "acme", frozenset({Permission.READ}), 0.0)
    asyncio.run(store.put(record))
    auth = Authenticator(store, hasher, cache_ttl_s=1.0, stale_ttl_s=10, monotonic=lambda: now[0])

    async def scenario() -> None:
        assert (await auth.authenticate(f"Bearer {key}")).tenant == "acme"
        await store.put(record.revoked(5.0))
        now[0] = 0.5
        assert (await auth.authenticate(f"bearer {key}")).tenant == "acme"  # within the TTL
        now[0] = 1.0
        with pytest.raises(Unauthenticated, match="API key revoked"):
            await auth.authenticate(f"Bearer {key}")

    asyncio.run(scenario())


def test_a_key_still_being_registered_is_unavailable_not_unknown(tmp_path: Path) -> None:
    """The bootstrap key while its registration waits for the store: the store does not
    have it yet, which is no reason to call it unknown (a client would not retry that)."""
    store = FileKeyStore(tmp_path / "keys.json")  # empty
    hasher = KeyHasher()
    record, key = new_record(hasher, "admin", frozenset(Permission), 0.0)
    other_secret = key[:-1] + ("A" if key[-1] != "A" else "B")
    auth = Authenticator(store, hasher, cache_ttl_s=1.0, stale_ttl_s=10)
    auth.hold(record.id, key)

    async def scenario() -> None:
        with pytest.raises(Unavailable) as raised:
            await auth.authenticate(f"Bearer {key}")
        assert raised.value.message == (
            "this API key is not registered yet: the key store is unreachable; retry shortly"
        )
        # Only the held key itself: another secret under its id is unknown (and cached so).
        with pytest.raises(Unauthenticated) as unknown:
            await auth.authenticate(f"Bearer {other_secret}")
        assert unknown.value.message == "unknown API key"
        auth.release(record.id, record)  # registered: verified from its record at once
        assert (await auth.authenticate(f"Bearer {key}")).tenant == "admin"

    asyncio.run(scenario())


def test_acked_through_is_the_highest_contiguously_settled_sequence() -> None:
    tracker = AckTracker()
    for sequence in (1, 2, 5, 9):
        tracker.sent(sequence)
    assert tracker.acked(2, settles=True) == 0  # 1 still open
    assert tracker.acked(1, settles=True) == 2
    assert tracker.acked(5, settles=False) == 2  # a retryable failure: resume from 5
    assert tracker.acked(9, settles=True) == 2


def test_concurrent_stale_lookups_share_one_store_read(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys.json")
    hasher = KeyHasher()
    record, key = new_record(hasher, "acme", frozenset({Permission.READ}), 0.0)
    asyncio.run(store.put(record))
    reads = [0]
    original = store.get

    async def counted(key_id: str) -> object:
        reads[0] += 1
        return await original(key_id)

    store.get = counted  # type: ignore[method-assign]
    auth = Authenticator(store, hasher, cache_ttl_s=1.0, stale_ttl_s=10)

    async def scenario() -> None:
        principals = await asyncio.gather(*(auth.authenticate(f"Bearer {key}") for _ in range(20)))
        assert {p.tenant for p in principals} == {"acme"}

    asyncio.run(scenario())
    assert reads == [1]
