"""Server-sent events (the WHATWG event-stream format), decoded line by line.

OpenAI-compatible servers stream ``data: {json}`` events separated by blank lines
and end with ``data: [DONE]``; an event's data may span several ``data:`` lines
(joined with newlines), ``:`` lines are comments (keep-alives)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SseEvent:
    data: str
    event: str = "message"


@dataclass
class SseDecoder:
    _data: list[str] = field(default_factory=list)
    _event: str = ""

    def line(self, line: str) -> SseEvent | None:
        """Feed one line (without its line break); returns the event a blank line completes."""
        line = line.rstrip("\r")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        # "id" and "retry" matter only to reconnecting browsers.
        return None

    def finish(self) -> SseEvent | None:
        """The last event of a stream that ended without a blank line."""
        return self._dispatch()

    def _dispatch(self) -> SseEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SseEvent("\n".join(self._data), self._event or "message")
        self._data = []
        self._event = ""
        return event
