"""The payload-path grammar, checked against what Qdrant reads (pure, no engine)."""

from __future__ import annotations

import pytest

from ragserve.retrieval import payload_paths

KEY_HINT = "a key is letters, digits, '_' and '-', or any text in double quotes"


@pytest.mark.parametrize(
    "path",
    [
        "a",
        "a.b",
        "a[]",
        "a[0]",
        "a.b[].c",
        "a[0][1]",
        "a-b_c",
        "título",
        '"a b"',
        '"a.b".c',
        'x."y z"[3]',
        '""',
        "x[18446744073709551615]",
    ],
)
def test_paths_qdrant_reads(path: str) -> None:
    assert payload_paths.problem(path) is None


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "is empty"),
        ("a[", "the '[' at character 2 is never closed"),
        ("a..b", f"expected a key at character 3, found '.' ({KEY_HINT})"),
        ("$", f"expected a key at character 1, found '$' ({KEY_HINT})"),
        (".", f"expected a key at character 1, found '.' ({KEY_HINT})"),
        ("a.", f"expected a key at character 3, found the end ({KEY_HINT})"),
        ("a[-1]", "index [-1] is not '[]' or a non-negative integer"),
        ("a[x]", "index [x] is not '[]' or a non-negative integer"),
        ("a[18446744073709551616]", "index [18446744073709551616] is larger than 2^64-1"),
        ("a\x00", "contains the control character '\\x00'"),
        ('"a\x00b"', "contains the control character '\\x00'"),
        ("😀", f"expected a key at character 1, found '😀' ({KEY_HINT})"),
        ("a b", "' ' at character 2 cannot follow a key or index"),
        ("a[0]b", "'b' at character 5 cannot follow a key or index"),
        ('"a', "the quote at character 1 is never closed"),
        ('a."b\\c"', "a quoted key cannot contain '\\'"),
    ],
)
def test_paths_qdrant_rejects_say_why(path: str, problem: str) -> None:
    assert payload_paths.problem(path) == problem


def test_plain_keys_need_no_quotes() -> None:
    assert payload_paths.is_plain_key("título")
    assert not payload_paths.is_plain_key("a b")
    assert not payload_paths.is_plain_key("")
