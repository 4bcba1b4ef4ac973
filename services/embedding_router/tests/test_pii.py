from __future__ import annotations

import pytest

from ragserve.embedding_router.pii import PiiScanner, luhn_valid


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize(
    ("text", "redacted", "kinds"),
    [
        ("mail jane.doe+x@example.co.uk now", "mail [EMAIL] now", ["email"]),
        ("card 4111 1111 1111 1111 ok", "card [CARD] ok", ["card"]),
        ("call +44 20 7946 0958 today", "call [PHONE] today", ["phone"]),
        ("call (555) 123-4567", "call [PHONE]", ["phone"]),
        ("ssn 123-45-6789.", "ssn [ID_NUMBER].", ["id_number"]),
        ("iban DE89 3704 0044 0532 0130 00 paid", "iban [ID_NUMBER] paid", ["id_number"]),
        ("a@b.io and 4111-1111-1111-1111", "[EMAIL] and [CARD]", ["card", "email"]),
        ("the year 2024 had 365 days", "the year 2024 had 365 days", []),
    ],
)
def test_builtin_kinds(text: str, redacted: str, kinds: list[str]) -> None:
    scanner = PiiScanner()
    assert scanner.redact(text) == (redacted, kinds)
    assert scanner.kinds(text) == kinds


def test_a_number_failing_luhn_is_not_a_card() -> None:
    scanner = PiiScanner()
    # 16 digits that fail the checksum: not a card (and too long to be a phone number).
    assert scanner.kinds("order 4111111111111112") == []


def test_extra_patterns_win_over_builtins() -> None:
    scanner = PiiScanner({"employee_id": r"EMP-\d{6}"})
    assert scanner.redact("ask EMP-123456 or x@y.org") == (
        "ask [EMPLOYEE_ID] or [EMAIL]",
        ["email", "employee_id"],
    )
