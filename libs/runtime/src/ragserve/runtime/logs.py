"""JSON logs that carry the current trace and span ids.

One line per record on stderr, so a log line leads straight to its trace in
Jaeger. ``extra={...}`` fields are merged into the line.

Records are formatted and written by a thread of their own
(:class:`~logging.handlers.QueueListener`): the event loop only hands them over,
with the trace ids of the moment (the thread cannot see the caller's context).
An access-log line per RPC then costs the loop a queue put, not a JSON encode
and a write to a pipe that may be full.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import sys
import time
from logging.handlers import QueueHandler, QueueListener
from typing import Any

from opentelemetry import trace

_STANDARD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "trace_ids",
}

_listener: QueueListener | None = None


def _trace_ids(record: logging.LogRecord) -> tuple[str, str] | None:
    captured: tuple[str, str] | None = getattr(record, "trace_ids", None)
    if captured is not None:
        return captured
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
        ids = _trace_ids(record)
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


class _HandOver(QueueHandler):
    """Hands records to the writer thread with what only the caller's thread knows."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_ids = (
                format(span_context.trace_id, "032x"),
                format(span_context.span_id, "016x"),
            )
        if record.exc_info:
            # Formatted now: the traceback's frames change once this thread moves on.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger to one JSON stream on stderr, written by a thread (idempotent)."""
    global _listener
    stop_logging()
    writer = logging.StreamHandler(sys.stderr)
    writer.setFormatter(JsonFormatter(service))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = QueueListener(records, writer, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(_HandOver(records))
    root.setLevel(level.upper())


def stop_logging() -> None:
    """Write what is queued and stop the writer thread (at exit; idempotent)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


atexit.register(stop_logging)
