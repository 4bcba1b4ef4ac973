"""Shared helpers of the gateway's tests live in ``gateway_helpers`` next to this file; it is
put on ``sys.path`` here because pytest runs in importlib mode."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
