"""Payload paths as Qdrant reads them: filter keys, payload-index fields, payload selections.

Qdrant (server, Edge and qdrant-client's local mode alike) accepts a path only in this
grammar, and rejects anything else deep inside the engine:

    path  = key { "." key | "[" digits "]" | "[]" }
    key   = 1*(letter | digit | "_" | "-")     ; letters and digits of any script
          | '"' *(any character but '"' and "\\") '"'

So ``a``, ``a.b``, ``a[]``, ``a[0]``, ``a.b[].c`` and ``"my key".x`` are paths; ``a[``,
``a..b``, ``$``, ``.``, ``a[-1]`` and a bare emoji are not. Checking here first lets the
caller hear which field is wrong, in our words. One rule is stricter than the engine:
control characters (NUL and the like) are refused even inside quotes, since nothing a
client means needs them and they make paths unreadable in logs.
"""

from __future__ import annotations

import functools
import unicodedata

# The engine parses an index into a 64-bit unsigned integer.
_MAX_INDEX = 2**64 - 1
_KEY_HINT = "a key is letters, digits, '_' and '-', or any text in double quotes"


def _is_key_character(character: str) -> bool:
    # str.isalnum matches the engine's Unicode alphanumerics (qdrant-client's local mode
    # uses this very test); the engine may also accept a few combining marks, which can be quoted.
    return character.isalnum() or character in "_-"


def is_plain_key(key: str) -> bool:
    """Whether ``key`` needs no quotes in a path."""
    return bool(key) and all(_is_key_character(character) for character in key)


# The same few paths (a hit layout's payload keys, filter keys) come with every query: each is
# read once (~3 µs per path), not per call. Bounded, so varied paths cannot grow it.
@functools.lru_cache(maxsize=4096)
def problem(path: str) -> str | None:
    """None when Qdrant reads ``path`` as a payload path, otherwise what is wrong with it."""
    if not path:
        return "is empty"
    for character in path:
        if unicodedata.category(character) == "Cc":
            return f"contains the control character {character!r}"
    position, error = _key(path, 0)
    while error is None and position < len(path):
        character = path[position]
        if character == ".":
            position, error = _key(path, position + 1)
        elif character == "[":
            position, error = _index(path, position)
        else:
            error = f"{character!r} at character {position + 1} cannot follow a key or index"
    return error


def _key(path: str, start: int) -> tuple[int, str | None]:
    """(end of the key starting at ``start``, None) or (start, what is wrong)."""
    if start < len(path) and path[start] == '"':
        end = path.find('"', start + 1)
        if end < 0:
            return start, f"the quote at character {start + 1} is never closed"
        if "\\" in path[start + 1 : end]:
            return start, "a quoted key cannot contain '\\'"
        return end + 1, None
    end = start
    while end < len(path) and _is_key_character(path[end]):
        end += 1
    if end == start:
        found = f"{path[start]!r}" if start < len(path) else "the end"
        return start, f"expected a key at character {start + 1}, found {found} ({_KEY_HINT})"
    return end, None


def _index(path: str, start: int) -> tuple[int, str | None]:
    """``[]`` or ``[<digits>]`` starting at ``start`` (the '[')."""
    close = path.find("]", start + 1)
    if close < 0:
        return start, f"the '[' at character {start + 1} is never closed"
    digits = path[start + 1 : close]
    if digits and not (digits.isascii() and digits.isdigit()):
        return start, f"index [{digits}] is not '[]' or a non-negative integer"
    if digits and int(digits) > _MAX_INDEX:
        return start, f"index [{digits}] is larger than 2^64-1"
    return close + 1, None
