"""Which ONNX Runtime execution providers can really run on this machine.

``onnxruntime-gpu`` lists TensorRT and CUDA as available whenever they are compiled
in, GPU or not, and when asked for TensorRT without the CUDA libraries it prints an
``EP Error`` block on stdout (not through its logger) before falling back. So a
provider is requested only after a probe shows it can load: its provider library
(and with it every CUDA / TensorRT library it links) opens with ``dlopen``, and the
CUDA driver reports at least one device. What a session then runs on is read back
from ``InferenceSession.get_providers()``; ``get_device()`` says nothing useful.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import onnxruntime as ort

logger = logging.getLogger(__name__)

#: Config name → ONNX Runtime provider name.
ORT_NAMES: Final[dict[str, str]] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_PROVIDER_LIBRARIES: Final[dict[str, str]] = {
    "tensorrt": "libonnxruntime_providers_tensorrt.so",
    "cuda": "libonnxruntime_providers_cuda.so",
}


@dataclass(frozen=True, slots=True)
class ProviderProbe:
    """The verdict on one provider; ``reason`` says why it cannot run (empty when usable)."""

    name: str
    usable: bool
    reason: str = ""


@functools.cache
def probe_provider(name: str) -> ProviderProbe:
    """Probe ``name`` ("tensorrt", "cuda", "cpu") once per process; the answer cannot change."""
    if name == "cpu":
        return ProviderProbe(name, True)
    if name not in _PROVIDER_LIBRARIES:
        return ProviderProbe(name, False, f"unknown execution provider '{name}'")
    if ORT_NAMES[name] not in ort.get_available_providers():
        return ProviderProbe(name, False, "not compiled into this onnxruntime build")
    driver = _cuda_driver_problem()
    if driver:
        return ProviderProbe(name, False, driver)
    library = _provider_library_problem(_PROVIDER_LIBRARIES[name])
    if library:
        return ProviderProbe(name, False, library)
    return ProviderProbe(name, True)


def resolve_providers(requested: Sequence[str]) -> tuple[list[str], list[ProviderProbe]]:
    """(ORT names of the usable providers in the requested order, probes of those left out)."""
    usable: list[str] = []
    skipped: list[ProviderProbe] = []
    for name in requested:
        probe = probe_provider(name)
        if probe.usable:
            usable.append(ORT_NAMES[name])
        else:
            skipped.append(probe)
    return usable, skipped


def _cuda_driver_problem() -> str:
    """Empty when the CUDA driver loads and sees a device; otherwise what is missing."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return "no CUDA driver (libcuda.so.1 not found)"
    if driver.cuInit(0) != 0:
        return "the CUDA driver failed to initialise (no usable GPU)"
    count = ctypes.c_int(0)
    if driver.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return "the CUDA driver sees no GPU"
    return ""


@functools.cache
def _preload_pip_cuda_libraries() -> None:
    """Load CUDA/cuDNN from the ``nvidia-*`` wheels when they are installed (not on the
    linker path otherwise); onnxruntime's helper prints its warnings, hence the capture."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None or importlib.util.find_spec("nvidia") is None:
        return
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        try:
            preload(cuda=True, cudnn=True, msvc=False)
        except Exception as exc:  # a helper's failure only means fewer providers
            logger.info("onnxruntime.preload_dlls failed: %s", exc)
    if printed.getvalue().strip():
        logger.info("onnxruntime.preload_dlls: %s", printed.getvalue().strip())


def _provider_library_problem(library: str) -> str:
    """Empty when the provider library and everything it links can be opened."""
    _preload_pip_cuda_libraries()
    capi = Path(ort.__file__).parent / "capi"
    # The provider libraries are linked BIND_NOW against the shared bridge, which
    # onnxruntime itself loads RTLD_GLOBAL before any provider; do the same.
    try:
        ctypes.CDLL(str(capi / "libonnxruntime_providers_shared.so"), mode=ctypes.RTLD_GLOBAL)
        ctypes.CDLL(str(capi / library))
    except OSError as exc:
        return f"cannot load {library}: {exc}"
    return ""
