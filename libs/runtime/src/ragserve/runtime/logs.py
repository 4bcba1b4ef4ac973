"""JSON logs that carry the current trace and span ids.

One line per record on stderr, so a log line leads straight to its trace in
Jaeger. ``extra={...}`` fields are merged into the line.

Lines are written by a thread of their own (:class:`_Writer`), so a full pipe
never blocks the event loop. Records are formatted there too: the loop only
hands a record over, with the trace ids of the moment (the thread cannot see
the caller's context). The access log, one line per RPC, is the exception
(:func:`log_access`): its line is formatted on the loop (one ``json.dumps``, a
few microseconds, no ``LogRecord``) and its lines are handed to the thread in
batches, at most every ``ACCESS_BATCH_S``. Handing each line over woke the
thread once per RPC, and that wake-up, with the thread's formatting competing
for the GIL, cost a no-op RPC ~0.17 ms (``benchmarks/runtime``): most of what
the whole server stack cost it.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import queue
import sys
import threading
import time
from logging.handlers import QueueHandler
from typing import Any, TextIO

from opentelemetry import trace

ACCESS_LOGGER = "ragserve.access"
# Longest an access-log line waits on the loop before it goes to the writer thread.
ACCESS_BATCH_S = 0.05

_STANDARD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "trace_ids",
}

access_log = logging.getLogger(ACCESS_LOGGER)


def _current_trace_ids() -> tuple[str, str] | None:
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Captured where the record was made (see _HandOver), else the current span.
        ids: tuple[str, str] | None = getattr(record, "trace_ids", None) or _current_trace_ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str)

    def access_line(
        self, created: float, ids: tuple[str, str] | None, fields: dict[str, Any]
    ) -> str:
        """What :meth:`format` writes for an access-log record with ``fields``."""
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
            + f".{int((created - int(created)) * 1000):03d}Z",
            "level": "INFO",
            "service": self.service,
            "logger": ACCESS_LOGGER,
            "message": "rpc",
        }
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        line.update(fields)
        try:
            return json.dumps(line, default=str)
        except Exception as error:  # a log line must never fail the call that logs it
            return json.dumps({"level": "ERROR", "message": f"unformattable access line: {error}"})


_STOP = object()


class _Writer:
    """Formats and writes every line on a thread of its own, a batch per wake-up.

    The queue holds log records (formatted here) and lists of access-log lines
    (formatted on the loop, gathered by :meth:`add_access`)."""

    def __init__(self, stream: TextIO, formatter: JsonFormatter) -> None:
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.formatter = formatter
        self._stream = stream
        # Access lines not handed over yet, and the loop whose timer will hand them over.
        self._pending: list[str] = []
        self._pending_loop: asyncio.AbstractEventLoop | None = None
        self._pending_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ragserve-log", daemon=True)
        self._thread.start()

    def add_access(self, line: str) -> None:
        """Queue ``line``: with the others of the next ``ACCESS_BATCH_S`` on an event loop,
        at once elsewhere."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.queue.put([line])
            return
        with self._pending_lock:
            self._pending.append(line)
            if self._pending_loop is loop:
                return  # this loop's timer hands it over
            # The first line of a batch, or a batch begun on another loop (which may be
            # closed, its timer gone): what waits goes now, and this loop times the rest.
            earlier = self._pending[:-1]
            del self._pending[:-1]
            self._pending_loop = loop
        if earlier:
            self.queue.put(earlier)
        loop.call_later(ACCESS_BATCH_S, self._hand_over, loop)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._pending_lock:
            if self._pending_loop is not loop:
                return  # another loop took the batch over
            lines, self._pending = self._pending, []
            self._pending_loop = None
        if lines:
            self.queue.put(lines)

    def _format(self, item: logging.LogRecord) -> str:
        try:
            return self.formatter.format(item)
        except Exception as error:  # a log line must never take the writer down
            return json.dumps({"level": "ERROR", "message": f"unformattable log record: {error}"})

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while True:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            stop = False
            lines: list[str] = []
            for item in batch:
                if item is _STOP:
                    stop = True
                elif isinstance(item, list):
                    lines += item
                else:
                    lines.append(self._format(item))
            if lines:
                try:
                    self._stream.write("\n".join(lines) + "\n")
                    self._stream.flush()
                except (OSError, ValueError):
                    pass  # stderr closed: nowhere left to report it
            if stop:
                return

    def stop(self) -> None:
        with self._pending_lock:
            lines, self._pending = self._pending, []
            self._pending_loop = None
        if lines:
            self.queue.put(lines)
        self.queue.put(_STOP)
        self._thread.join(timeout=5)


class _HandOver(QueueHandler):
    """Hands records to the writer with what only the caller's thread knows."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.trace_ids = _current_trace_ids()
        if record.exc_info:
            # Formatted now: the traceback's frames change once this thread moves on.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record


# grpc.aio's logger, which reports an answer core could not send.
GRPC_AIO_LOGGER = "grpc._cython.cygrpc"
_UNSENT_PREFIX = "ExecuteBatchError raised in core by servicer method"


class _UnsentAnswerFilter(logging.Filter):
    """Reports an answer grpc could not send because its call had already ended as INFO.

    grpc.aio drops such a failure quietly once it has heard the call end, but when the
    client's deadline passes (or it cancels, or its connection drops) while the answer
    is being sent, the failed send can be seen first, and grpc logs it at ERROR with a
    traceback: a client's deadline reported as a server fault. The call already ended
    with the client's own status; nothing is lost that the client was told of.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(_UNSENT_PREFIX):
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.INFO):
            return False
        method = message[len(_UNSENT_PREFIX) :].strip(" []")
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.msg = (
            "answer not sent: the call had already ended"
            " (deadline passed, client cancelled or connection closed)"
        )
        record.args = None
        record.exc_info = record.exc_text = None
        record.__dict__["rpc.method"] = method
        return True


_UNSENT_ANSWER_FILTER = _UnsentAnswerFilter()
_writer: _Writer | None = None


def report_unsent_answers_as_info() -> None:
    """Install :class:`_UnsentAnswerFilter` on grpc.aio's logger (idempotent).

    ``create_server`` does it, so every server reports the same: a service process and one
    run in process (tests, benchmarks)."""
    grpc_aio = logging.getLogger(GRPC_AIO_LOGGER)
    if _UNSENT_ANSWER_FILTER not in grpc_aio.filters:
        grpc_aio.addFilter(_UNSENT_ANSWER_FILTER)


def log_access(fields: dict[str, Any]) -> None:
    """One access-log line (``message: "rpc"``) with ``fields`` and the current trace ids.

    Without :func:`configure_logging` (tests, tools) it is an ordinary INFO record
    of the ``ragserve.access`` logger. Either way the logger's level switches it off.
    """
    if not access_log.isEnabledFor(logging.INFO):
        return
    writer = _writer
    if writer is not None:
        writer.add_access(writer.formatter.access_line(time.time(), _current_trace_ids(), fields))
    else:
        access_log.info("rpc", extra=fields)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger to one JSON stream on stderr, written by a thread (idempotent)."""
    global _writer
    stop_logging()
    # Fields the JSON line never shows: not worth looking up for every record.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    _writer = _Writer(sys.stderr, JsonFormatter(service))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(_HandOver(_writer.queue))
    root.setLevel(level.upper())


def stop_logging() -> None:
    """Write what is queued and stop the writer thread (at exit; idempotent)."""
    global _writer
    writer, _writer = _writer, None
    if writer is not None:
        writer.stop()


atexit.register(stop_logging)
