"""How the CLI speaks: rich text for people, one JSON object per line for scripts.

Results go to stdout; progress and errors to stderr, so ``--json`` output stays
parseable and a human's pipe gets only the result.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from rich.console import Console

from ragserve.client.errors import RagserveError

# Exit codes (also in the README).
EXIT_OK = 0
EXIT_ERROR = 1  # the API refused the request, or some documents failed
EXIT_USAGE = 2  # bad arguments (also typer's own)
EXIT_UNAVAILABLE = 3  # the suite cannot be reached
EXIT_INTERRUPTED = 130


def plain(value: Any) -> Any:
    """A dataclass / enum / datetime tree as JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Output:
    def __init__(self, json_lines: bool) -> None:
        self.json = json_lines
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        # Piped output is read by people later or by scripts: no 80-column wrapping of
        # tables (COLUMNS still wins when set).
        for console in (self.out, self.err):
            if not console.is_terminal and "COLUMNS" not in os.environ:
                console.width = 160

    @property
    def interactive(self) -> bool:
        return not self.json and self.err.is_terminal

    def emit(self, record: dict[str, Any]) -> None:
        """One JSON line (json mode only)."""
        sys.stdout.write(json.dumps(plain(record), ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def error(self, message: str) -> None:
        if self.json:
            sys.stderr.write(json.dumps({"error": message}) + "\n")
        else:
            self.err.print(f"[bold red]error:[/] {message}", markup=True)

    def api_error(self, error: RagserveError) -> int:
        """Reports an API error; returns the exit code for it."""
        if self.json:
            record = {
                "error": error.message,
                "code": error.code.name,
                "field": error.field,
                "retry_delay_s": error.retry_delay_s,
                "trace_id": error.trace_id,
            }
            sys.stderr.write(json.dumps(record) + "\n")
        else:
            self.err.print(f"[bold red]error:[/] {error.code.name}: {error.message}", markup=True)
            # Without a trace id the gateway never answered: the hint about starting the
            # suite applies then, not when a service behind a running gateway is down.
            hint = HINTS.get(error.code.name)
            if error.code.name == "UNAVAILABLE" and error.trace_id:
                hint = "a service behind the gateway is down or not ready: `ragserve status`"
            if hint:
                self.err.print(f"  {hint}", style="dim")
            if error.retry_delay_s is not None:
                self.err.print(f"  retry after {error.retry_delay_s:.3g} s", style="dim")
            if error.trace_id:
                self.err.print(f"  trace id {error.trace_id}", style="dim")
        return EXIT_UNAVAILABLE if error.code.name == "UNAVAILABLE" else EXIT_ERROR


HINTS = {
    "UNAVAILABLE": "is the suite running? `ragserve up` starts it; `ragserve status` shows it "
    "(address: --addr or RAGSERVE_GATEWAY_ADDR)",
    "UNAUTHENTICATED": "set RAGSERVE_API_KEY (or --api-key) to a valid key; `ragserve up` wrote "
    "a local admin key under var/gateway/admin.key",
    "PERMISSION_DENIED": "the key lacks the permission (read, write or admin) this command needs",
}
