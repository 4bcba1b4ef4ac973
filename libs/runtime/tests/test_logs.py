"""The access log: lines formatted on the loop read as the formatter's own, and every line
reaches the stream, batched on a loop or not; grpc's report of an answer it could not send
to an ended call is INFO."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys

import pytest

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


class ExecuteBatchError(Exception):
    """Named as grpc.aio's own: what core raises when a send on an ended call fails."""


def test_an_answer_grpc_could_not_send_to_an_ended_call_is_info_not_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    grpc_aio = logging.getLogger(logs.GRPC_AIO_LOGGER)
    try:
        logs.configure_logging("svc", "INFO")
        logs.report_unsent_answers_as_info()  # as create_server does
        logs.report_unsent_answers_as_info()  # idempotent: one filter, one line
        assert len(grpc_aio.filters) == 1
        try:
            raise ExecuteBatchError('Failed "execute_batch": (SendStatusFromServerOperation,)')
        except ExecuteBatchError:
            # Worded as grpc.aio's _handle_exceptions words it.
            grpc_aio.exception(
                "ExecuteBatchError raised in core by servicer method [%s]",
                "/pkg.Service/Method",
            )
            grpc_aio.exception("Unexpected [%s] raised by servicer method [%s]", "E", "/m")
        logs.stop_logging()
        unsent, unexpected = written(stream)
        assert unsent == {
            "ts": unsent["ts"],
            "level": "INFO",
            "service": "svc",
            "logger": logs.GRPC_AIO_LOGGER,
            "message": "answer not sent: the call had already ended"
            " (deadline passed, client cancelled or connection closed)",
            "rpc.method": "/pkg.Service/Method",
        }
        # Every other grpc error stays an error, with its traceback.
        assert unexpected["level"] == "ERROR"
        assert "Traceback" in str(unexpected["exception"])

        stream.truncate(0)
        stream.seek(0)
        logs.configure_logging("svc", "WARNING")
        try:
            raise ExecuteBatchError("send failed")
        except ExecuteBatchError:
            grpc_aio.exception("ExecuteBatchError raised in core by servicer method [/m]")
        logs.stop_logging()
        assert written(stream) == []  # INFO is below the level asked for
    finally:
        logs.stop_logging()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        grpc_aio.filters.clear()
