"""JSON logs that carry the current trace and span ids.

One line per record on stderr, so a log line leads straight to its trace in
Jaeger. ``extra={...}`` fields are merged into the line.

Lines are formatted and written by a thread of their own (:class:`_Writer`):
the event loop only hands a record over, with the trace ids of the moment (the
thread cannot see the caller's context). The access log, one line per RPC,
hands over its few fields without building a ``LogRecord`` at all
(:func:`log_access`). A call then costs the loop a queue put, not a JSON
encode and a write to a pipe that may be full.
"""

from __future__ import annotations

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


# What the loop hands over for one access-log line: (created, trace ids, fields).
_AccessLine = tuple[float, tuple[str, str] | None, dict[str, Any]]
_STOP = object()


class _Writer:
    """Formats and writes every line on a thread of its own, a batch per wake-up."""

    def __init__(self, stream: TextIO, formatter: JsonFormatter) -> None:
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stream = stream
        self._formatter = formatter
        self._thread = threading.Thread(target=self._run, name="ragserve-log", daemon=True)
        self._thread.start()

    def _format(self, item: logging.LogRecord | _AccessLine) -> str:
        if isinstance(item, logging.LogRecord):
            record = item
        else:
            created, ids, fields = item
            record = logging.makeLogRecord(
                {"name": ACCESS_LOGGER, "levelno": logging.INFO, "levelname": "INFO"}
            )
            record.msg, record.created = "rpc", created
            record.msecs = (created - int(created)) * 1000
            record.trace_ids = ids
            record.__dict__.update(fields)
        try:
            return self._formatter.format(record)
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
            stop = any(item is _STOP for item in batch)
            lines = [self._format(item) for item in batch if item is not _STOP]
            if lines:
                try:
                    self._stream.write("\n".join(lines) + "\n")
                    self._stream.flush()
                except (OSError, ValueError):
                    pass  # stderr closed: nowhere left to report it
            if stop:
                return

    def stop(self) -> None:
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


_writer: _Writer | None = None


def log_access(fields: dict[str, Any]) -> None:
    """One access-log line (``message: "rpc"``) with ``fields`` and the current trace ids.

    Without :func:`configure_logging` (tests, tools) it is an ordinary INFO record
    of the ``ragserve.access`` logger. Either way the logger's level switches it off.
    """
    if not access_log.isEnabledFor(logging.INFO):
        return
    writer = _writer
    if writer is not None:
        writer.queue.put((time.time(), _current_trace_ids(), fields))
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
