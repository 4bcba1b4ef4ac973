"""Statuses become exceptions carrying the code, message, retry delay, field and trace id."""

from __future__ import annotations

import grpc
import pytest
from clients import Driver
from scripted_gateway import TRACE_ID, Gateway, rich_status

from ragserve.client import InvalidArgument, NotFound, ResourceExhausted, RetryPolicy
from ragserve.client.errors import InternalError, error_from_status


def test_retry_info_gives_the_delay() -> None:
    code, message, trailers = rich_status(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "over the limit", retry_delay_s=0.25
    )
    error = error_from_status(code, message, trailers)
    assert isinstance(error, ResourceExhausted)
    assert error.retry_delay_s == pytest.approx(0.25)
    assert error.retryable
    assert str(error) == "RESOURCE_EXHAUSTED: over the limit (retry after 0.25 s)"


def test_retry_after_header_when_no_rich_details() -> None:
    code, message, trailers = rich_status(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", retry_after_ms=1500
    )
    assert error_from_status(code, message, trailers).retry_delay_s == pytest.approx(1.5)


def test_rich_details_win_over_the_header() -> None:
    code, message, trailers = rich_status(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "x", retry_delay_s=0.5, retry_after_ms=9000
    )
    assert error_from_status(code, message, trailers).retry_delay_s == pytest.approx(0.5)


def test_bad_request_names_the_field() -> None:
    code, message, trailers = rich_status(
        grpc.StatusCode.INVALID_ARGUMENT, "top_k: at most 100", field_name="top_k"
    )
    error = error_from_status(code, message, trailers)
    assert isinstance(error, InvalidArgument)
    assert error.field == "top_k"
    assert not error.retryable


def test_unknown_codes_and_junk_details_are_internal_errors() -> None:
    error = error_from_status(
        grpc.StatusCode.DATA_LOSS, "lost", (("grpc-status-details-bin", b"\xff\x00junk"),)
    )
    assert isinstance(error, InternalError)
    assert error.retry_delay_s is None


def test_a_real_call_raises_the_mapped_error(gateway: Gateway, kind: str) -> None:
    gateway.script.failures["CreateCollection"] = [
        rich_status(grpc.StatusCode.INVALID_ARGUMENT, "name: 1 to 64 characters", field_name="name")
    ]
    client = Driver(kind, gateway.address, "rsk_x", retry=RetryPolicy())
    with client, pytest.raises(InvalidArgument) as caught:
        client.create_collection("bad name")
    assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message == "name: 1 to 64 characters"
    assert caught.value.field == "name"
    assert caught.value.trace_id == TRACE_ID
    assert caught.value.__suppress_context__  # the grpc error is not chained onto it
    assert gateway.script.calls == ["CreateCollection"]  # not retried


def test_not_found_is_not_retried(gateway: Gateway, kind: str) -> None:
    gateway.script.failures["CreateCollection"] = [
        rich_status(grpc.StatusCode.NOT_FOUND, "collection 'x' not found")
    ] * 3
    with Driver(kind, gateway.address, "rsk_x") as client, pytest.raises(NotFound):
        client.create_collection("x")
    assert gateway.script.calls == ["CreateCollection"]


def test_nothing_listening_is_unavailable(kind: str) -> None:
    from ragserve.client import Unavailable
    from ragserve.testkit.ports import free_port

    client = Driver(kind, f"127.0.0.1:{free_port()}", "k", retry=RetryPolicy(max_attempts=2))
    with client, pytest.raises(Unavailable) as caught:
        client.list_collections(timeout=5)
    assert caught.value.trace_id is None  # the gateway never answered
