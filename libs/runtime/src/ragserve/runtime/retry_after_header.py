"""HTTP's ``Retry-After`` header as seconds: what an HTTP peer (an embeddings provider, a
webhook receiver) asks a client to wait. gRPC peers say it in ``retry-after-ms`` instead
(``ragserve.runtime.errors.retry_after_s``)."""

from __future__ import annotations

import math
import time
from datetime import UTC
from email.utils import parsedate_to_datetime


def retry_after_header_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value, delay-seconds or an HTTP-date (measured from
    ``now``, epoch seconds, default the current time); never negative. None when absent or
    unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
