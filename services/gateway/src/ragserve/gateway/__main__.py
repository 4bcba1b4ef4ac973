"""``python -m ragserve.gateway``: the public API of the suite."""

from __future__ import annotations

from ragserve.runtime.server import serve


def _build() -> object:
    from pydantic import ValidationError

    from ragserve.gateway.service import GatewayService
    from ragserve.gateway.settings import GatewaySettings
    from ragserve.runtime.settings import SettingsError

    try:
        settings = GatewaySettings()
    except ValidationError as error:
        first = error.errors()[0]
        variable = "RAGSERVE_GATEWAY_" + "_".join(str(p) for p in first["loc"]).upper()
        raise SettingsError(f"{variable}: {first['msg']}") from None
    return GatewayService(settings)


def main() -> None:
    from ragserve.gateway.settings import GRPC_PORT, METRICS_PORT

    serve("gateway", _build, GRPC_PORT, METRICS_PORT)


if __name__ == "__main__":
    main()
