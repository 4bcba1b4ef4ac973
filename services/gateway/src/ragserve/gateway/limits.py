"""The limits the gateway counts per API key, and their units."""

from __future__ import annotations

from enum import StrEnum


class Limit(StrEnum):
    REQUESTS = "requests"
    TEXTS = "texts"
    INGEST_BYTES = "ingest_bytes"


UNITS = {Limit.REQUESTS: "requests/s", Limit.TEXTS: "texts/s", Limit.INGEST_BYTES: "bytes/s"}
