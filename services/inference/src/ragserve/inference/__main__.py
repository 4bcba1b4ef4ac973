"""``python -m ragserve.inference``: the Open Inference Protocol server."""

from __future__ import annotations

from ragserve.runtime.server import serve


def _build() -> object:
    # Imported after logging is configured, so an ONNX Runtime import error is logged.
    from ragserve.inference.service import InferenceService
    from ragserve.inference.settings import InferenceSettings
    from ragserve.runtime.settings import load_settings

    return InferenceService(load_settings(InferenceSettings, "inference"))


def main() -> None:
    from ragserve.inference.settings import GRPC_PORT, METRICS_PORT

    serve("inference", _build, GRPC_PORT, METRICS_PORT)


if __name__ == "__main__":
    main()
