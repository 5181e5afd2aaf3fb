"""Which onnxruntime execution providers to ask for: CUDA when it can really run, else CPU.

``onnxruntime-gpu`` lists ``CUDAExecutionProvider`` as available even on a machine without a GPU or
without the CUDA/cuDNN libraries; asking for it there makes onnxruntime log an error for every
session and fall back to CPU. ``cuda_problem()`` checks the driver and the provider library first,
quietly, and says why CUDA cannot be used. The engine still reports the provider its sessions
actually got (onnxruntime has the last word).

Shared by every onnxruntime engine (text, voice, screen, fusion).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import platform
from functools import lru_cache
from pathlib import Path
from typing import Any

from assist.inference.errors import ModelUnavailable

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@lru_cache(maxsize=1)
def cuda_problem() -> str:
    """"" when CUDA looks usable by onnxruntime, else a short reason (for logs and the status bar)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "onnxruntime is not installed"
    if CUDA not in ort.get_available_providers():
        return "this onnxruntime build has no CUDA provider"
    if platform.system() != "Linux":
        return ""  # let onnxruntime try; it falls back to CPU by itself
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return "no NVIDIA driver (libcuda.so.1 not found)"
    with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
        ort.preload_dlls()  # CUDA/cuDNN from the nvidia-* wheels, when installed
    provider_lib = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not provider_lib.exists():  # the CPU bundle of Assist leaves the 280 MB provider out
        return "this build of Assist has no CUDA provider (install the GPU build)"
    try:
        ctypes.CDLL(str(provider_lib))
    except OSError as exc:
        return f"CUDA libraries missing: {exc}"
    return ""


def onnx_providers(prefer_gpu: bool = True) -> list[str]:
    """Providers in order of preference: ``[CUDA, CPU]`` when CUDA can run, else ``[CPU]``."""
    return [CUDA, CPU] if prefer_gpu and not cuda_problem() else [CPU]


def make_session(path: Path | bytes, what: str, threads: int = 1, prefer_gpu: bool = True,
                 missing_hint: str = "") -> Any:
    """An onnxruntime session for one of the app's models, with errors a person can act on.

    ``what`` names the model in messages ("text model", "voice model"...). One intra-op thread by default:
    per-message graphs are too small to split, and on 2 cores a second thread stalls next to any busy
    process (see ``encoder.set_cpu_threads``). The CUDA provider is asked for only when it can run.
    """
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelUnavailable("onnxruntime is not installed (pip install onnxruntime-gpu).") from exc
    if not isinstance(path, bytes) and not path.is_file():  # bytes: a graph built in memory
        raise ModelUnavailable(f"The {what} file {path} is missing.{' ' + missing_hint if missing_hint else ''}")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        source = path if isinstance(path, bytes) else str(path)
        return onnxruntime.InferenceSession(source, options, providers=onnx_providers(prefer_gpu))
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several types for bad files
        name = "(in memory)" if isinstance(path, bytes) else path.name
        raise ModelUnavailable(f"The {what} file {name} is corrupt or unreadable ({exc}).") from exc
