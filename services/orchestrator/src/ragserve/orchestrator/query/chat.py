"""The chat generator: any OpenAI-compatible ``/chat/completions`` endpoint (vLLM,
Ollama, OpenAI), streamed over server-sent events.

The prompt numbers the context passages; the answer streams token by token as
deltas, its ``[n]`` markers become citations (:mod:`.markers`), and the usage the
server reports at the end (``stream_options.include_usage``) is passed on. Any
failure of the endpoint raises :class:`GeneratorFailed`; the pipeline decides
what the client sees.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ragserve.orchestrator.query.markers import MarkerCitations
from ragserve.orchestrator.query.model import AnswerDelta, AnswerOptions, GeneratorKind, Hit
from ragserve.orchestrator.query.ports import (
    AnswerPiece,
    AnswerTruncated,
    GenerationUsage,
    GeneratorFailed,
)
from ragserve.orchestrator.query.sse import SseDecoder, SseEvent

DEFAULT_SYSTEM_PROMPT = (
    "You answer questions using only the numbered context passages you are given. "
    "After each sentence, cite the passages that support it as [n], e.g. [1] or [2, 3]. "
    "If the passages do not contain the answer, say that they do not."
)
DEFAULT_PROMPT_TEMPLATE = "Context:\n{context}\n\nQuestion: {question}"
# Error bodies are quoted in warnings: keep them short.
_MAX_ERROR_CHARS = 200
# Answer pieces read from the endpoint ahead of the pipeline (a slow reader slows the read).
_BUFFERED_PIECES = 16


class _End:
    """The completion streamed to its end."""


@dataclass(frozen=True)
class ChatConfig:
    # Base URL of the OpenAI-compatible API, e.g. http://localhost:11434/v1 (Ollama).
    url: str
    model: str
    # Name of the environment variable holding the API key ("" or unset: no key sent).
    api_key_env: str = ""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    # Must contain {context} and {question}.
    prompt_template: str = DEFAULT_PROMPT_TEMPLATE
    temperature: float = 0.0

    @property
    def completions_url(self) -> str:
        return self.url.rstrip("/") + "/chat/completions"

    def api_key(self) -> str:
        return os.environ.get(self.api_key_env, "") if self.api_key_env else ""


def numbered_context(hits: Sequence[Hit]) -> str:
    """``[n] source`` then the passage, for each hit, numbered from 1."""
    blocks = []
    for number, hit in enumerate(hits, start=1):
        source = " > ".join((hit.document_id, *hit.location.heading_path))
        if hit.location.page is not None:
            source += f" (page {hit.location.page})"
        blocks.append(f"[{number}] {source}\n{hit.text}")
    return "\n\n".join(blocks)


def build_messages(config: ChatConfig, question: str, hits: Sequence[Hit]) -> list[dict[str, str]]:
    user = config.prompt_template.format(context=numbered_context(hits), question=question)
    return [{"role": "system", "content": config.system_prompt}, {"role": "user", "content": user}]


def parse_chunk(event: SseEvent) -> tuple[str, GenerationUsage | None, bool]:
    """The text delta, the usage (if any) of one streamed completion chunk, and whether
    it says the answer stopped at the token limit (finish_reason "length")."""
    try:
        chunk = json.loads(event.data)
    except ValueError as error:
        raise ValueError(
            f"a stream event is not JSON: {event.data[:_MAX_ERROR_CHARS]!r}"
        ) from error
    if not isinstance(chunk, dict):
        raise ValueError("a stream event is not a JSON object")
    if "error" in chunk:
        raise ValueError(f"the server reported an error: {str(chunk['error'])[:_MAX_ERROR_CHARS]}")
    text = ""
    truncated = False
    for choice in chunk.get("choices") or ():
        truncated = truncated or choice.get("finish_reason") == "length"
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if isinstance(content, str):
            text += content
    usage = None
    raw_usage = chunk.get("usage")
    if isinstance(raw_usage, dict):
        usage = GenerationUsage(
            prompt_tokens=int(raw_usage.get("prompt_tokens") or 0),
            completion_tokens=int(raw_usage.get("completion_tokens") or 0),
        )
    return text, usage, truncated


class ChatGenerator:
    kind = GeneratorKind.CHAT

    def __init__(self, config: ChatConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.client = client

    def describe(self) -> str:
        """How warnings name this generator: kind, model and endpoint."""
        return f"the chat generator ({self.config.model} at {self.config.url})"

    def _body(self, question: str, hits: Sequence[Hit], options: AnswerOptions) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "messages": build_messages(self.config, question, hits),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": options.max_tokens,
            "temperature": self.config.temperature,
        }

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        key = self.config.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    async def generate(
        self, question: str, hits: Sequence[Hit], options: AnswerOptions
    ) -> AsyncIterator[AnswerPiece]:
        context = hits[: options.max_context_chunks]
        pieces: asyncio.Queue[AnswerPiece | _End | Exception] = asyncio.Queue(_BUFFERED_PIECES)
        exchange = asyncio.create_task(self._exchange(question, context, options, pieces))
        try:
            while True:
                item = await pieces.get()
                if isinstance(item, _End):
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            # The HTTP exchange runs in a task of its own so that it is cancelled once, here,
            # however often the query is: a query's deadline and the server ending the call
            # cancel it twice at once, and httpx's clean-up after a cancellation (closing
            # the connection, which is how the endpoint learns to stop generating) does not
            # survive a second one landing in it. Waited for without passing on a further
            # cancellation of ours (asyncio.wait does not cancel what it waits for).
            exchange.cancel()
            await asyncio.wait({exchange})

    async def _exchange(
        self,
        question: str,
        context: Sequence[Hit],
        options: AnswerOptions,
        out: asyncio.Queue[AnswerPiece | _End | Exception],
    ) -> None:
        try:
            async for piece in self._stream(question, context, options):
                await out.put(piece)
        except Exception as error:  # GeneratorFailed, or a bug: the reader raises it
            await out.put(error)
        else:
            await out.put(_End())

    async def _stream(
        self, question: str, context: Sequence[Hit], options: AnswerOptions
    ) -> AsyncIterator[AnswerPiece]:
        markers = MarkerCitations(context)
        try:
            async with self.client.stream(
                "POST",
                self.config.completions_url,
                json=self._body(question, context, options),
                headers=self._headers(),
            ) as response:
                if response.status_code != 200:
                    body = (await response.aread()).decode("utf-8", "replace")
                    raise GeneratorFailed(
                        self.kind,
                        self.describe(),
                        f"HTTP {response.status_code} from {self.config.completions_url}: "
                        f"{body[:_MAX_ERROR_CHARS]}",
                    )
                decoder = SseDecoder()
                done = False
                async for line in response.aiter_lines():
                    event = decoder.line(line)
                    if event is None:
                        continue
                    if event.data.strip() == "[DONE]":
                        done = True
                        break
                    text, usage, truncated = parse_chunk(event)
                    if text:
                        yield AnswerDelta(text)
                        for citation in markers.feed(text):
                            yield citation
                    if usage is not None:
                        yield usage
                    if truncated:
                        yield AnswerTruncated()
                last = decoder.finish()
                done = done or (last is not None and last.data.strip() == "[DONE]")
                if not done:
                    raise GeneratorFailed(
                        self.kind, self.describe(), "the stream ended before [DONE]"
                    )
        except httpx.HTTPError as error:
            raise GeneratorFailed(
                self.kind,
                self.describe(),
                f"{type(error).__name__} calling {self.config.completions_url}: {error}",
            ) from error
        except ValueError as error:
            raise GeneratorFailed(self.kind, self.describe(), str(error)) from error
