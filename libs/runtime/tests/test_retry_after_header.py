"""Retry-After values as the embeddings providers and webhook receivers send them."""

from __future__ import annotations

from ragserve.runtime.retry_after_header import retry_after_header_s


def test_delay_seconds() -> None:
    assert retry_after_header_s("3") == 3.0
    assert retry_after_header_s("7", 0.0) == 7.0


def test_absent_or_unreadable_is_none() -> None:
    assert retry_after_header_s(None) is None
    assert retry_after_header_s(None, 0.0) is None
    assert retry_after_header_s("garbage") is None
    assert retry_after_header_s("soon", 0.0) is None


def test_an_http_date_is_measured_from_now_and_never_negative() -> None:
    assert retry_after_header_s("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10.0
    assert retry_after_header_s("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490.0) == 0.0
    assert retry_after_header_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
