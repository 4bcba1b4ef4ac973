"""``python -m ragserve.monitor``: the suite's monitor and status page."""

from __future__ import annotations

from ragserve.runtime.server import serve


def _build() -> object:
    from ragserve.monitor.service import MonitorService
    from ragserve.monitor.settings import GRPC_PORT, METRICS_PORT, MonitorSettings
    from ragserve.runtime.settings import load_server_settings, load_settings

    # The webhook's last tries at shutdown get the runtime's grace period too.
    grace_s = load_server_settings("monitor", GRPC_PORT, METRICS_PORT).grace_period_s
    return MonitorService(load_settings(MonitorSettings, "monitor"), grace_s)


def main() -> None:
    from ragserve.monitor.settings import GRPC_PORT, METRICS_PORT

    serve("monitor", _build, GRPC_PORT, METRICS_PORT)


if __name__ == "__main__":
    main()
