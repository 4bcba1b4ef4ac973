"""``python -m ragserve.orchestrator``: ingest and query pipelines."""

from __future__ import annotations

from ragserve.runtime.server import serve


def _build() -> object:
    from ragserve.orchestrator.service import OrchestratorService
    from ragserve.orchestrator.settings import OrchestratorSettings

    # pydantic-settings reads RAGSERVE_ORCHESTRATOR_*; a bad value stops start-up with
    # pydantic's message naming the setting (the runtime's load_settings takes over once
    # it handles BaseSettings).
    return OrchestratorService(OrchestratorSettings())


def main() -> None:
    from ragserve.orchestrator.settings import GRPC_PORT, METRICS_PORT

    serve("orchestrator", _build, GRPC_PORT, METRICS_PORT)


if __name__ == "__main__":
    main()
