"""``python -m ragserve.embedding_router``: serve the embedding router."""

from __future__ import annotations

from ragserve.runtime.server import serve


def _factory() -> object:
    # Imported here, after logging is configured, so an import error is logged as JSON.
    from ragserve.embedding_router.service import EmbeddingRouterService

    return EmbeddingRouterService()


def main() -> None:
    serve("embedding_router", _factory, default_port=50053, default_metrics_port=9153)


if __name__ == "__main__":
    main()
