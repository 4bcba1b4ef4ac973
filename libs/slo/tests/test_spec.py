"""The SLO spec model: the shipped spec loads, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ragserve.slo.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "deploy" / "slo" / "slos.yaml"

WINDOWS = """
windows:
  - {long: 1h, short: 5m, burn_rate: 14.4, severity: page}
"""


def test_shipped_spec_has_the_seed_objectives() -> None:
    spec = load_spec(SPEC)
    by_name = {slo.name: slo for slo in spec.slos}
    assert by_name["api-latency"].threshold_seconds == 2
    assert by_name["api-latency"].objective == 0.95
    assert by_name["vector-search-latency"].threshold_seconds == 0.1
    assert by_name["query-availability"].objective == 0.999
    assert by_name["retrieval-errors"].objective == 0.99
    assert [(w.long, w.short, w.burn_rate) for w in spec.windows] == [
        ("1h", "5m", 14.4),
        ("6h", "30m", 6),
        ("1d", "2h", 3),
        ("3d", "6h", 1),
    ]
    assert spec.all_windows() == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]


@pytest.mark.parametrize(
    ("slo", "message"),
    [
        (
            "{name: x, description: d, service: s, kind: latency, objective: 0.9}",
            "threshold_seconds",
        ),
        ("{name: x, description: d, service: s, kind: error_ratio, objective: 1.5}", "less than 1"),
        (
            "{name: X, description: d, service: s, kind: error_ratio, grpc_service: a, objective: 0.9}",
            "lower-case",
        ),
        (
            "{name: x, description: d, service: s, kind: error_ratio, objective: 0.9}",
            "needs grpc_service",
        ),
        (
            "{name: x, description: d, service: s, kind: error_ratio, grpc_service: a, objective: 0.9, colour: red}",
            "colour",
        ),
    ],
)
def test_bad_slo_entries_are_named(slo: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_spec(f"{WINDOWS}\nslos:\n  - {slo}\n")


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValidationError, match="not a duration"):
        parse_spec("windows: [{long: 1hour, short: 5m, burn_rate: 1, severity: page}]\nslos: []\n")
    with pytest.raises(ValidationError, match="must be shorter"):
        parse_spec("windows: [{long: 5m, short: 1h, burn_rate: 1, severity: page}]\nslos: []\n")


def test_duplicate_names_are_refused() -> None:
    entry = (
        "{name: x, description: d, service: s, kind: error_ratio, grpc_service: a, objective: 0.9}"
    )
    with pytest.raises(ValidationError, match="duplicate SLO names: x"):
        parse_spec(f"{WINDOWS}\nslos:\n  - {entry}\n  - {entry}\n")
