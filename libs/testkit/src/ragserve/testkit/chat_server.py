"""A real OpenAI-compatible chat completions server (aiohttp) for tests.

It streams ``/v1/chat/completions`` as server-sent events the way vLLM, Ollama and
OpenAI do (``data: {chunk}`` events, a usage chunk when
``stream_options.include_usage`` is set, then ``data: [DONE]``), from a
deterministic "model": the answer quotes the first sentence of context passage
[1] and cites it, split into small pieces so that markers arrive split over
several chunks. ``behaviour`` switches it to failing modes, to test fallbacks and
cancellation: an HTTP 500, a stream cut in the middle, or a stall that lasts
until the client goes away (``disconnected`` is set then).

The server runs its own event loop in a thread, so sync and async tests use it alike.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Behaviour = Literal["answer", "error", "cut", "stall"]

_PASSAGE = re.compile(r"^\[1\][^\n]*\n(?P<text>[^\n]+)", re.MULTILINE)
_FIRST_SENTENCE = re.compile(r"^.*?[.!?](?=\s|$)")


def scripted_answer(prompt: str) -> str:
    """What the fake model answers: passage [1]'s first sentence, cited."""
    match = _PASSAGE.search(prompt)
    if match is None:
        return "The context does not say."
    text = match.group("text").strip()
    sentence = _FIRST_SENTENCE.match(text)
    quoted = (sentence.group() if sentence else text).rstrip(".!?")
    return f"From the context: {quoted} [1]."


def pieces(answer: str) -> list[str]:
    """Streamed pieces of about a token: words with their spaces, and "[", "1", "]" apart."""
    return [p for p in re.findall(r"\s*[\w']+|\s*[^\w\s]", answer) if p]


@dataclass
class ChatRequest:
    body: dict[str, Any]
    authorization: str


@dataclass
class ChatServer:
    behaviour: Behaviour = "answer"
    # When set, requests without "Authorization: Bearer <api_key>" get 401.
    api_key: str = ""
    requests: list[ChatRequest] = field(default_factory=list)
    # Set when a client went away while the server was still streaming to it.
    disconnected: threading.Event = field(default_factory=threading.Event)
    # Set when a stalled request has been received (the test may cancel then).
    stalled: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL (ends in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ChatServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="chat-server", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the chat server did not start")
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        # Cancel a handler whose client went away: that is how a stall sees the disconnect.
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only through the server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()
        self._loop = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        authorization = request.headers.get("Authorization", "")
        self.requests.append(ChatRequest(body, authorization))
        if self.api_key and authorization != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "bad API key"}}, status=401)
        if self.behaviour == "error":
            return web.json_response({"error": {"message": "model overloaded"}}, status=500)
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        answer_pieces = pieces(scripted_answer(prompt))
        max_tokens = int(body.get("max_tokens") or 1_000_000)
        finish = "stop"
        if len(answer_pieces) > max_tokens:
            answer_pieces, finish = answer_pieces[:max_tokens], "length"
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            await self._stream(request, response, body, prompt, answer_pieces, finish)
        except (ConnectionResetError, asyncio.CancelledError):
            if self.behaviour == "stall":
                self.disconnected.set()
            raise
        return response

    async def _stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        body: dict[str, Any],
        prompt: str,
        answer_pieces: list[str],
        finish: str,
    ) -> None:
        model = body.get("model", "")

        async def send(chunk: dict[str, Any] | str) -> None:
            data = chunk if isinstance(chunk, str) else json.dumps(chunk)
            await response.write(f"data: {data}\n\n".encode())

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }

        await send(chunk({"role": "assistant", "content": ""}))
        if self.behaviour == "stall":
            self.stalled.set()
            # Holds the response open until the client disconnects (aiohttp then
            # cancels this handler) or the server stops.
            await asyncio.Event().wait()
        for number, piece in enumerate(answer_pieces):
            if self.behaviour == "cut" and number == 3:
                # The connection drops mid-answer: no final chunk, no [DONE].
                assert request.transport is not None
                request.transport.abort()
                return
            await send(chunk({"content": piece}))
        await send(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            await send(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": len(prompt.split()),
                        "completion_tokens": len(answer_pieces),
                        "total_tokens": len(prompt.split()) + len(answer_pieces),
                    },
                }
            )
        await send("[DONE]")
