"""The access log: lines formatted on the loop read as the formatter's own, and every line
reaches the stream, batched on a loop or not."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from ragserve.runtime import logs
from ragserve.runtime.logs import ACCESS_LOGGER, JsonFormatter

FIELDS = {
    "rpc.method": "/pkg.Service/Method",
    "rpc.code": "OK",
    "rpc.duration_ms": 0.412,
    "net.peer": "ipv4:127.0.0.1:5000",
}
IDS = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


def record_line(formatter: JsonFormatter, created: float, ids: tuple[str, str] | None) -> str:
    """The line the formatter writes for an access record made the generic way."""
    record = logging.makeLogRecord(
        {"name": ACCESS_LOGGER, "levelno": logging.INFO, "levelname": "INFO"}
    )
    record.msg, record.created = "rpc", created
    record.msecs = (created - int(created)) * 1000
    record.trace_ids = ids
    record.__dict__.update(FIELDS)
    return formatter.format(record)


def test_an_access_line_reads_as_the_formatters_record_line() -> None:
    formatter = JsonFormatter("svc")
    for created in (1_700_000_000.0, 1_700_000_000.9996, 1_764_112_345.25):
        for ids in (IDS, None):
            assert formatter.access_line(created, ids, dict(FIELDS)) == record_line(
                formatter, created, ids
            )
    line = json.loads(formatter.access_line(1_700_000_000.5, IDS, dict(FIELDS)))
    assert list(line) == [
        "ts",
        "level",
        "service",
        "logger",
        "message",
        "trace_id",
        "span_id",
        *FIELDS,
    ]
    assert line["ts"] == "2023-11-14T22:13:20.500Z"


def written(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_access_lines_reach_the_stream_from_loops_and_threads_without_one() -> None:
    stream = io.StringIO()
    writer = logs._Writer(stream, JsonFormatter("svc"))
    formatter = writer.formatter

    async def calls(first: int, count: int, wait_for_timer: bool) -> None:
        for n in range(first, first + count):
            writer.add_access(formatter.access_line(0.0, None, {"n": n}))
        if wait_for_timer:
            # The batch goes when its timer fires, with no further line to push it.
            done = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(logs.ACCESS_BATCH_S * 2, done.set_result, None)
            await done

    writer.add_access(formatter.access_line(0.0, None, {"n": 0}))  # no loop: at once
    asyncio.run(calls(1, 5, wait_for_timer=True))
    # A loop that ends before its timer fires: the next loop's first line sends them on.
    asyncio.run(calls(6, 3, wait_for_timer=False))
    asyncio.run(calls(9, 2, wait_for_timer=False))
    writer.stop()  # and stopping writes what still waits
    assert sorted(int(str(line["n"])) for line in written(stream)) == list(range(11))
