"""A real HTTP server speaking OpenAI's ``POST /v1/embeddings``, for tests.

It answers with the vectors of the embedder it is given (a test that needs the vector space of
the inference service passes the same model's pipeline). ``POST /control`` with
``{"mode": "ok" | "429" | "500" | "hang", "count": N | null, "retry_after": seconds}`` makes the
next N requests (all, when null) answer that way; ``hang`` holds a request until the mode is
reset or the server stops. ``GET /stats`` returns the requests seen and the texts received.
With a token counter it reports ``usage.total_tokens`` as OpenAI does (else 0, as some
OpenAI-compatible servers do).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Texts -> one vector per text, in order (a numpy array of rows will do).
Embedder = Callable[[Sequence[str]], Iterable[Iterable[float]]]
TokenCount = Callable[[Sequence[str]], int]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a hung request leaves a broken pipe behind; that is the test.
        return None


class OpenAIEmbeddingServer:
    def __init__(self, embed: Embedder, count_tokens: TokenCount | None = None) -> None:
        self._embed = embed
        self._count_tokens = count_tokens
        self._lock = threading.Lock()
        self._mode = "ok"
        self._count: int | None = None
        self._retry_after = 1.0
        self._release = threading.Event()
        self.requests = 0
        self.received: list[str] = []
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> OpenAIEmbeddingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def set_mode(self, mode: str, count: int | None = None, retry_after: float = 1.0) -> None:
        with self._lock:
            self._mode, self._count, self._retry_after = mode, count, retry_after
            if mode == "hang":
                self._release.clear()
            else:
                self._release.set()

    def _take_mode(self) -> tuple[str, float]:
        with self._lock:
            self.requests += 1
            mode = self._mode
            if self._count is not None:
                self._count -= 1
                if self._count <= 0:
                    self._mode, self._count = "ok", None
            return mode, self._retry_after

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _reply(
                self, status: int, body: object, headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("content-length", "0"))
                return json.loads(self.rfile.read(length) or b"{}")

            def do_GET(self) -> None:
                if self.path == "/stats":
                    with server._lock:
                        body = {"requests": server.requests, "received": list(server.received)}
                    self._reply(200, body)
                else:
                    self._reply(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = self._body()
                if self.path == "/control":
                    server.set_mode(
                        body["mode"], body.get("count"), float(body.get("retry_after", 1.0))
                    )
                    self._reply(200, {"mode": body["mode"]})
                    return
                if self.path != "/v1/embeddings":
                    self._reply(404, {"error": {"message": f"no route {self.path}"}})
                    return
                mode, retry_after = server._take_mode()
                if mode == "429":
                    self._reply(
                        429,
                        {"error": {"message": "rate limited", "type": "rate_limit"}},
                        {"retry-after": f"{retry_after:g}"},
                    )
                    return
                if mode == "500":
                    self._reply(500, {"error": {"message": "internal error"}})
                    return
                if mode == "hang":
                    server._release.wait(30)
                texts = body["input"]
                texts = [texts] if isinstance(texts, str) else list(texts)
                with server._lock:
                    server.received.extend(texts)
                vectors = server._embed(texts)
                tokens = server._count_tokens(texts) if server._count_tokens else 0
                self._reply(
                    200,
                    {
                        "object": "list",
                        "model": body.get("model", ""),
                        "data": [
                            {
                                "object": "embedding",
                                "index": i,
                                "embedding": [float(x) for x in v],
                            }
                            for i, v in enumerate(vectors)
                        ],
                        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                    },
                )

        return Handler
