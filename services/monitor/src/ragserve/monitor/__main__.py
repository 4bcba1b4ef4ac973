"""``python -m ragserve.monitor``: the suite's monitor and status page."""

from __future__ import annotations

from ragserve.runtime.server import serve


def _build() -> object:
    from ragserve.monitor.service import MonitorService
    from ragserve.monitor.settings import MonitorSettings
    from ragserve.runtime.settings import load_settings

    return MonitorService(load_settings(MonitorSettings, "monitor"))


def main() -> None:
    from ragserve.monitor.settings import GRPC_PORT, METRICS_PORT

    serve("monitor", _build, GRPC_PORT, METRICS_PORT)


if __name__ == "__main__":
    main()
