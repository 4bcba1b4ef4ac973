"""The chat generator against a real OpenAI-compatible server streaming SSE (aiohttp)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from ragserve.orchestrator.query.chat import ChatConfig, ChatGenerator, numbered_context
from ragserve.orchestrator.query.model import (
    AnswerDelta,
    AnswerOptions,
    ChunkLocation,
    Citation,
    GeneratorKind,
    Hit,
)
from ragserve.orchestrator.query.ports import AnswerTruncated, GenerationUsage, GeneratorFailed
from ragserve.testkit.chat_server import ChatServer

HITS = [
    Hit(
        collection="c",
        point_id="1",
        document_id="volcanoes",
        chunk_index=2,
        text="Basalt forms when lava cools quickly. It is dark and dense.",
        score=0.8,
        location=ChunkLocation(start=40, end=99, page=3, heading_path=("Rocks",)),
    ),
    Hit(
        collection="c",
        point_id="2",
        document_id="rivers",
        chunk_index=0,
        text="Rivers carve valleys.",
        score=0.5,
        location=ChunkLocation(start=0, end=21),
    ),
]


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer(api_key="sekrit") as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


def generator(
    server: ChatServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> ChatGenerator:
    monkeypatch.setenv("TEST_CHAT_KEY", "sekrit")
    return ChatGenerator(
        ChatConfig(url=server.url, model="tiny-chat", api_key_env="TEST_CHAT_KEY"), client
    )


def test_numbered_context_names_sources() -> None:
    assert numbered_context(HITS) == (
        "[1] volcanoes > Rocks (page 3)\n"
        "Basalt forms when lava cools quickly. It is dark and dense.\n\n"
        "[2] rivers\nRivers carve valleys."
    )


async def test_streams_tokens_cites_markers_and_reports_usage(
    server: ChatServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = generator(server, client, monkeypatch)
    pieces = [p async for p in chat.generate("What is basalt?", HITS, AnswerOptions(max_tokens=64))]
    deltas = [p.text for p in pieces if isinstance(p, AnswerDelta)]
    answer = "".join(deltas)
    assert answer == "From the context: Basalt forms when lava cools quickly [1]."
    assert len(deltas) > 5  # token by token, not one block
    citations = [p for p in pieces if isinstance(p, Citation)]
    assert len(citations) == 1
    citation = citations[0]
    assert citation.hit_index == 0
    assert answer[citation.answer_start : citation.answer_end] == (
        "From the context: Basalt forms when lava cools quickly"
    )
    assert (citation.document_start, citation.document_end) == (40, 99)
    usage = [p for p in pieces if isinstance(p, GenerationUsage)]
    assert usage and usage[0].completion_tokens == len(deltas) and usage[0].prompt_tokens > 10
    request = server.requests[-1]
    assert request.authorization == "Bearer sekrit"
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.body["model"] == "tiny-chat"
    assert request.body["max_tokens"] == 64
    assert "[1] volcanoes > Rocks (page 3)" in request.body["messages"][1]["content"]


async def test_max_tokens_reached_is_reported(
    server: ChatServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = generator(server, client, monkeypatch)
    pieces = [p async for p in chat.generate("basalt?", HITS, AnswerOptions(max_tokens=3))]
    assert len([p for p in pieces if isinstance(p, AnswerDelta)]) == 3
    assert any(isinstance(p, AnswerTruncated) for p in pieces)


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [("error", "HTTP 500 .*model overloaded"), ("cut", "")],
)
async def test_endpoint_failures_raise_generator_failed(
    server: ChatServer,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    behaviour: str,
    reason: str,
) -> None:
    server.behaviour = behaviour  # type: ignore[assignment]
    chat = generator(server, client, monkeypatch)
    with pytest.raises(GeneratorFailed, match=r"the chat generator \(tiny-chat at http") as caught:
        async for _ in chat.generate("basalt?", HITS, AnswerOptions()):
            pass
    assert caught.value.kind is GeneratorKind.CHAT
    assert caught.value.reason
    if reason:
        assert caught.match(reason)


async def test_wrong_key_and_unreachable_endpoint_fail(
    server: ChatServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CHAT_KEY", "wrong")
    chat = ChatGenerator(ChatConfig(server.url, "m", api_key_env="TEST_CHAT_KEY"), client)
    with pytest.raises(GeneratorFailed, match="HTTP 401"):
        async for _ in chat.generate("q", HITS, AnswerOptions()):
            pass
    nowhere = ChatGenerator(ChatConfig("http://127.0.0.1:9/v1", "m"), client)
    with pytest.raises(GeneratorFailed, match="ConnectError"):
        async for _ in nowhere.generate("q", HITS, AnswerOptions()):
            pass


async def stalled_answer(
    server: ChatServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> asyncio.Task[None]:
    """An answer being read in a task of its own, stalled at the chat endpoint (which has
    the request and holds its connection open)."""
    server.behaviour = "stall"
    chat = generator(server, client, monkeypatch)

    async def consume() -> None:
        async for _ in chat.generate("q", HITS, AnswerOptions()):
            pass

    task = asyncio.create_task(consume())
    assert await asyncio.to_thread(server.stalled.wait, 30)
    return task


async def test_cancelling_the_consumer_closes_the_connection(
    server: ChatServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = await stalled_answer(server, client, monkeypatch)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.disconnected.wait, 30)


@pytest.mark.parametrize("steps_between", range(6))
async def test_cancelled_twice_at_once_still_closes_the_connection(
    server: ChatServer,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    steps_between: int,
) -> None:
    """A query's deadline and the server ending the call cancel the answer twice at once;
    the second cancellation, wherever it lands in the first one's clean-up, must not leave
    the completion's connection open (httpx's own clean-up does not survive it)."""
    task = await stalled_answer(server, client, monkeypatch)
    task.cancel()
    for _ in range(steps_between):
        await asyncio.sleep(0)  # one event-loop step: where the second cancellation lands
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.disconnected.wait, 30)
