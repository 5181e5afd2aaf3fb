"""Entry point of the frozen app (PyInstaller): the same ``assist`` command as the installed package."""

import os
import sys
from pathlib import Path


def _cuda_libraries() -> None:
    """GPU build: make the CUDA / cuDNN libraries of the bundled nvidia-* wheels findable before any import.

    They sit in ``_internal/nvidia/...`` as in site-packages. Windows: each folder holding DLLs joins the
    DLL search path (CTranslate2 and onnxruntime load cuBLAS/cuDNN by name). Linux: onnxruntime's
    ``preload_dlls()`` loads them by full path, so CTranslate2's later loads by name find them in memory.
    """
    nvidia = Path(getattr(sys, "_MEIPASS", "")) / "nvidia"
    if not getattr(sys, "frozen", False) or not nvidia.is_dir():
        return
    if sys.platform == "win32":
        for folder in sorted({dll.parent for dll in nvidia.rglob("*.dll")}):
            os.add_dll_directory(str(folder))
            os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        import contextlib
        import ctypes
        import io

        ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")  # no driver: nothing to load
        import onnxruntime

        with contextlib.redirect_stdout(io.StringIO()):  # it prints when no driver: the app says so in words
            onnxruntime.preload_dlls()
        # CTranslate2 4.x opens cuBLAS 12 by name (onnxruntime-gpu 1.31 uses CUDA 13): load the bundled one
        for lib in sorted(nvidia.rglob("libcublas*.so.12"), key=lambda p: "Lt" not in p.name):
            ctypes.CDLL(str(lib))
    except Exception:  # noqa: BLE001 - no driver or GPU here: the app falls back to the CPU and says why
        pass


if __name__ == "__main__":
    _cuda_libraries()
    from assist.app.cli.main import main

    sys.exit(main())
