"""``python -m ragserve.embedding_router``: serve the embedding router."""

from __future__ import annotations

from ragserve.runtime.server import serve


def _build() -> object:
    # Imported here, after logging is configured, so an import error is logged as JSON.
    from ragserve.embedding_router.service import EmbeddingRouterService
    from ragserve.embedding_router.settings import RouterSettings
    from ragserve.runtime.settings import load_settings

    return EmbeddingRouterService(load_settings(RouterSettings, "embedding_router"))


def main() -> None:
    from ragserve.embedding_router.settings import GRPC_PORT, METRICS_PORT

    serve("embedding_router", _build, GRPC_PORT, METRICS_PORT)


if __name__ == "__main__":
    main()
