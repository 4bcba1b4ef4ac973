"""ONNX Runtime sessions built from a model's config.

Sessions are created once per loaded model and called from worker threads
(``InferenceSession.run`` releases the GIL and is safe to call concurrently).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from ragserve.errors import FailedPrecondition
from ragserve.inference.config import ModelConfig
from ragserve.inference.providers import ProviderProbe, resolve_providers

logger = logging.getLogger(__name__)

_ERROR_SEVERITY = 3
_FATAL_SEVERITY = 4


@dataclass(frozen=True, slots=True)
class OnnxSession:
    """A session and the providers it really runs on (``get_providers()``, in priority order)."""

    session: ort.InferenceSession
    providers: tuple[str, ...]
    skipped: tuple[ProviderProbe, ...]


def session_options(config: ModelConfig) -> ort.SessionOptions:
    """Threads from the config (2 by default: measured faster than 1 for this model size),
    one inter-op thread, full graph optimisation. Spin-waiting stays on: turning it off
    cost 20-30% throughput when measured."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = _ERROR_SEVERITY
    if not config.intra_op_spinning:
        # Idle intra-op threads sleep instead of spinning: slower alone, but the
        # spinning competes for the cores with the server's own threads.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def quiet_run_options() -> ort.RunOptions:
    """Per-run options that keep ONNX Runtime from printing a request's failure to stderr:
    the failure reaches the caller as an exception, and raw stderr would break JSON logs."""
    options = ort.RunOptions()
    options.log_severity_level = _FATAL_SEVERITY
    return options


def create_session(
    model_file: Path,
    config: ModelConfig,
    *,
    engine_cache_dir: Path,
    tensorrt_profile: Mapping[str, str] | None = None,
) -> OnnxSession:
    """Open ``model_file`` on the first usable providers of ``config.execution_providers``.

    ``engine_cache_dir`` holds TensorRT engines between runs (created on demand);
    ``tensorrt_profile`` adds ``trt_profile_{min,opt,max}_shapes`` options so one engine
    covers every shape a text model can see. Raises FailedPrecondition when no
    configured provider can run here, naming each provider and why.
    """
    usable, skipped = resolve_providers(config.execution_providers)
    for probe in skipped:
        logger.info(
            "model %s: execution provider %s skipped: %s", config.name, probe.name, probe.reason
        )
    if not usable:
        reasons = "; ".join(f"{probe.name}: {probe.reason}" for probe in skipped)
        raise FailedPrecondition(
            f"model '{config.name}': none of the execution providers "
            f"{list(config.execution_providers)} can run here ({reasons})"
        )
    providers: list[str | tuple[str, dict[str, str]]] = []
    for name in usable:
        if name == "TensorrtExecutionProvider":
            engine_cache_dir.mkdir(parents=True, exist_ok=True)
            options = {
                "trt_fp16_enable": "True" if config.tensorrt.fp16 else "False",
                "trt_engine_cache_enable": "True",
                "trt_engine_cache_path": str(engine_cache_dir),
                "trt_timing_cache_enable": "True",
                "trt_timing_cache_path": str(engine_cache_dir),
            }
            options.update(tensorrt_profile or {})
            providers.append((name, options))
        else:
            providers.append(name)
    session = ort.InferenceSession(
        str(model_file), sess_options=session_options(config), providers=providers
    )
    running = tuple(session.get_providers())
    missing = [name for name in usable if name not in running]
    if missing:
        logger.warning(
            "model %s: providers %s passed the probe but failed to start; running on %s",
            config.name,
            missing,
            list(running),
        )
    return OnnxSession(session=session, providers=running, skipped=tuple(skipped))
