"""``python -m ragserve.retrieval``: the vector retrieval service."""

from __future__ import annotations

from ragserve.runtime.server import serve


def _build() -> object:
    from ragserve.retrieval.service import RetrievalService
    from ragserve.retrieval.settings import RetrievalSettings
    from ragserve.runtime.settings import load_settings

    return RetrievalService(load_settings(RetrievalSettings, "retrieval"))


def main() -> None:
    from ragserve.retrieval.settings import GRPC_PORT, METRICS_PORT

    serve("retrieval", _build, GRPC_PORT, METRICS_PORT)


if __name__ == "__main__":
    main()
