"""The smallest service ``serve`` can run: health and reflection only, SERVING at once.
Started as a real process by the runtime's process tests (``python -m minimal_service``
from this folder); ``RAGSERVE_TEST_HIDE_UVLOOP=1`` makes uvloop unimportable in it, as on a
platform without its wheels."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import grpc

from ragserve.runtime.server import Health, serve

NAME = "minimal"


class MinimalService:
    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        return []

    async def start(self, health: Health) -> None:
        await health.set_serving(True)

    async def stop(self) -> None:
        return None


def main() -> None:
    if os.environ.get("RAGSERVE_TEST_HIDE_UVLOOP") == "1":
        sys.modules["uvloop"] = None  # type: ignore[assignment]  # import uvloop → ImportError
    serve(NAME, MinimalService, 0, 0)


if __name__ == "__main__":
    main()
