"""``python -m ragserve.orchestrator``: ingest and query pipelines."""

from __future__ import annotations

from ragserve.runtime.server import serve


def _build() -> object:
    from ragserve.orchestrator.service import OrchestratorService
    from ragserve.orchestrator.settings import OrchestratorSettings
    from ragserve.runtime.settings import load_settings

    return OrchestratorService(load_settings(OrchestratorSettings, "orchestrator"))


def main() -> None:
    from ragserve.orchestrator.settings import GRPC_PORT, METRICS_PORT

    serve("orchestrator", _build, GRPC_PORT, METRICS_PORT)


if __name__ == "__main__":
    main()
