"""HTTP reads of the monitor: /metrics pages and Prometheus's query API (blocking; run
them in a thread)."""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request

from ragserve.slo import promql
from ragserve.slo.spec import Slo, SloSpec


def fetch_text(url: str, timeout_s: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        body: bytes = response.read()
    return body.decode("utf-8", errors="replace")


def prometheus_ratios(
    base_url: str, spec: SloSpec, timeout_s: float
) -> dict[tuple[str, str], float | None]:
    """Every SLO's ratio over every window, by the same PromQL as the recording rules."""
    ratios: dict[tuple[str, str], float | None] = {}
    for slo in spec.slos:
        for window in spec.all_windows():
            query = promql.error_ratio(spec, slo, window)
            url = f"{base_url.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": query})
            answer = json.loads(fetch_text(url, timeout_s))
            result = answer.get("data", {}).get("result", [])
            value = float(result[0]["value"][1]) if result else math.nan
            ratios[(slo.name, window)] = None if math.isnan(value) else value
    return ratios


class PrefetchedRatios:
    def __init__(self, ratios: dict[tuple[str, str], float | None]) -> None:
        self._ratios = ratios

    def error_ratio(self, slo: Slo, window: str) -> float | None:
        return self._ratios.get((slo.name, window))
