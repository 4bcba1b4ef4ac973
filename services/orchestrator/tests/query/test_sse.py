"""Server-sent events decoding and OpenAI chunk parsing."""

from __future__ import annotations

import pytest

from ragserve.orchestrator.query.chat import parse_chunk
from ragserve.orchestrator.query.ports import GenerationUsage
from ragserve.orchestrator.query.sse import SseDecoder, SseEvent


def decode(lines: list[str]) -> list[SseEvent]:
    decoder = SseDecoder()
    events = [event for line in lines if (event := decoder.line(line)) is not None]
    last = decoder.finish()
    return [*events, *([last] if last else [])]


def test_events_end_at_blank_lines_and_join_data_lines() -> None:
    events = decode(["data: one", "", ": keep-alive", "data: two", "data:  three\r", "", "data: x"])
    assert [e.data for e in events] == ["one", "two\n three", "x"]


def test_event_names_and_empty_events() -> None:
    events = decode(["event: ping", "", "event: note", "data: {}", ""])
    assert events == [SseEvent("{}", "note")]


def test_chunk_text_usage_and_length_finish() -> None:
    text, usage, truncated = parse_chunk(
        SseEvent('{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}')
    )
    assert (text, usage, truncated) == ("Hi", None, False)
    text, usage, truncated = parse_chunk(
        SseEvent('{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}}')
    )
    assert (text, usage) == ("", GenerationUsage(12, 3))
    _, _, truncated = parse_chunk(SseEvent('{"choices":[{"delta":{},"finish_reason":"length"}]}'))
    assert truncated


@pytest.mark.parametrize(
    ("data", "message"),
    [("not json", "not JSON"), ("[1]", "not a JSON object"), ('{"error":"boom"}', "boom")],
)
def test_bad_chunks_raise(data: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_chunk(SseEvent(data))
