"""``ragserve up``: the local suite in the foreground, with a live status table.

Ctrl-C or SIGTERM stops every process it started, in reverse order; a service
that dies takes the suite down with it (exit 1) and its log's tail is shown.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

from rich.live import Live
from rich.table import Table

from ragserve.client.cli.launcher import LocalSuite, Part, SuiteError, tail
from ragserve.client.cli.output import EXIT_ERROR, EXIT_OK, Output

STYLES = {"serving": "green", "starting": "yellow", "stopping": "yellow", "stopped": "dim"}


def status_table(suite: LocalSuite) -> Table:
    table = Table(
        "service", "pid", "gRPC", "metrics", "state", "ready",
        caption=f"logs in {suite.log_dir}", caption_justify="left",
    )  # fmt: skip
    for part in suite.parts:
        style = STYLES.get(part.state, "red" if part.state != "pending" else "dim")
        table.add_row(
            part.name,
            str(part.pid or ""),
            part.address,
            f":{part.metrics_port}/metrics" if part.metrics_port else "",
            f"[{style}]{part.state}[/]",
            f"{part.ready_after_s:.1f} s" if part.ready_after_s is not None else "",
        )
    return table


def run_up(state_dir: Path, output: Output) -> int:
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    live: Live | None = None
    suite = LocalSuite(state_dir.resolve())

    def on_change(part: Part) -> None:
        if output.json:
            output.emit(
                {
                    "event": "service",
                    "service": part.name,
                    "state": part.state,
                    "pid": part.pid,
                    "address": part.address,
                    "metrics_port": part.metrics_port,
                    "log": str(part.log_path),
                }
            )
        elif live is not None:
            live.update(status_table(suite))
        else:
            pid = f" pid {part.pid}" if part.pid else ""
            output.err.print(f"{part.name:17} {part.state}{pid}  {part.address}", markup=False)

    suite.on_change = on_change
    try:
        if output.interactive:
            live = Live(status_table(suite), console=output.err, refresh_per_second=4)
            live.start()
        try:
            suite.start(stop)
        except SuiteError as error:
            _stop_live(live)
            live = None
            output.error(str(error))
            return EXIT_ERROR
        if stop.is_set():
            return EXIT_OK
        _announce(suite, output)
        while not stop.wait(0.5):  # wakes on a signal at once; the period only checks children
            dead = suite.first_exited()
            if dead is not None:
                _stop_live(live)
                live = None
                output.error(
                    f"{dead.name} exited ({dead.exit_code()}); stopping the suite. "
                    f"Its log: {dead.log_path}\n{tail(dead.log_path)}"
                )
                return EXIT_ERROR
        return EXIT_OK
    finally:
        suite.stop()
        _stop_live(live)
        if output.json:
            output.emit({"event": "stopped", "signal": received[0] if received else None})
        else:
            output.err.print("every process of the suite stopped")
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop_live(live: Live | None) -> None:
    if live is not None:
        live.stop()


def _announce(suite: LocalSuite, output: Output) -> None:
    key_file = suite.admin_key_file
    gateway = next((p for p in suite.parts if p.name == "gateway"), None)
    if output.json:
        output.emit(
            {
                "event": "ready",
                "gateway": gateway.address if gateway else None,
                "admin_key_file": str(key_file),
                "admin_key_created": suite.admin_key_created,
                "logs": str(suite.log_dir),
                "pids": {p.name: p.pid for p in suite.parts},
            }
        )
        return
    lines = [f"the suite is SERVING; logs in {suite.log_dir}; Ctrl-C stops it"]
    if gateway is not None:
        created = "created now" if suite.admin_key_created else "from an earlier start"
        lines.append(f"gateway at {gateway.address}; local admin key ({created}): {key_file}")
        lines.append(
            "  try: ragserve keys create --tenant demo --permissions read,write"
            "   (the CLI uses that admin key when RAGSERVE_API_KEY is unset)"
        )
    for line in lines:
        output.err.print(line, markup=False)
