"""Finding and redacting personal data before text leaves for an external provider.

Built-in kinds: ``email``, ``card`` (13-19 digits that pass the Luhn check), ``id_number``
(US SSN ``123-45-6789`` and IBAN-shaped account numbers), ``phone`` (7-15 digits with an
optional ``+`` country code and separators). Tenants add their own kinds as named regexes.

Matches never overlap: kinds are tried in a fixed order (custom patterns first, then card before
phone, so a card number is not also a phone number) and a later match touching an earlier one is
dropped. Redaction replaces each match with ``[KIND]`` in upper case. Nothing in this module
returns or logs the matched text itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_PHONE = re.compile(r"(?<![\w+(])(?:\+|\()?\d[\d ().-]{5,18}\d(?!\w)")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits (card numbers pass it, most random numbers don't)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _phone_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 7 <= len(digits) <= 15


def _always(_: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class PiiMatch:
    kind: str
    start: int
    end: int


class PiiScanner:
    """Scans text for the built-in kinds plus a tenant's extra patterns. Stateless once built."""

    def __init__(self, extra_patterns: Mapping[str, str] | None = None) -> None:
        detectors: list[tuple[str, re.Pattern[str], Callable[[str], bool]]] = [
            (name, re.compile(pattern), _always) for name, pattern in (extra_patterns or {}).items()
        ]
        detectors += [
            ("email", _EMAIL, _always),
            ("card", _CARD, _card_ok),
            ("id_number", _SSN, _always),
            ("id_number", _IBAN, _always),
            ("phone", _PHONE, _phone_ok),
        ]
        self._detectors = detectors

    def find(self, text: str) -> list[PiiMatch]:
        """Non-overlapping matches in text order."""
        taken: list[PiiMatch] = []
        for kind, pattern, accept in self._detectors:
            for found in pattern.finditer(text):
                if found.end() == found.start():
                    continue
                if not accept(found.group()):
                    continue
                if any(found.start() < m.end and m.start < found.end() for m in taken):
                    continue
                taken.append(PiiMatch(kind, found.start(), found.end()))
        taken.sort(key=lambda m: m.start)
        return taken

    def kinds(self, text: str) -> list[str]:
        """The distinct kinds found, sorted; empty when the text is clean."""
        return sorted({m.kind for m in self.find(text)})

    def redact(self, text: str) -> tuple[str, list[str]]:
        """The text with every match replaced by ``[KIND]``, and the kinds replaced."""
        matches = self.find(text)
        if not matches:
            return text, []
        pieces: list[str] = []
        cursor = 0
        for match in matches:
            pieces.append(text[cursor : match.start])
            pieces.append(f"[{match.kind.upper()}]")
            cursor = match.end
        pieces.append(text[cursor:])
        return "".join(pieces), sorted({m.kind for m in matches})
