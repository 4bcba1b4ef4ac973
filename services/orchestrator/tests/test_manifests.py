"""Manifest ids and page tokens: stable per document, opaque, and refused when forged."""

from __future__ import annotations

import uuid

import pytest

from ragserve.errors import InvalidArgument
from ragserve.orchestrator import payload
from ragserve.orchestrator.manifests import decode_token, encode_token


def test_a_manifest_id_depends_on_collection_and_document_only() -> None:
    assert payload.manifest_id("docs", "a") == payload.manifest_id("docs", "a")
    assert payload.manifest_id("docs", "a") != payload.manifest_id("docs", "b")
    assert payload.manifest_id("docs", "a") != payload.manifest_id("other", "a")
    # A chunk id never collides with a manifest id (different namespaces).
    assert payload.manifest_id("docs", "a") != payload.chunk_id("a", "0" * 64, 0)


@pytest.mark.parametrize("point", [str(uuid.uuid4()) for _ in range(20)])
def test_tokens_round_trip_and_fit_the_gateway_limit(point: str) -> None:
    token = encode_token(point)
    assert decode_token(token) == point
    assert len(token) == 24 and token.startswith("d1")


@pytest.mark.parametrize(
    "token",
    ["100", "d1", "d1" + "A" * 21, "d1" + "A" * 23, "x1" + "A" * 22, "d1" + "*" * 22, "d1" * 40],
)
def test_tokens_not_given_are_invalid_argument_naming_page_token(token: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        decode_token(token)
    assert caught.value.field == "page_token"
    assert caught.value.reason.endswith("is not a token this service gave")
