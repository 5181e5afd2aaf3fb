"""The machine line every benchmark records beside its figures, and the percentiles they all report."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1]) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(values: list[float], digits: int = 2, count: bool = False) -> dict[str, float]:
    """p50 / p95 / max (and n), rounded."""
    import statistics

    out = {"p50": round(statistics.median(values), digits), "p95": round(percentile(values, 0.95), digits),
           "max": round(max(values), digits)}
    return {"n": len(values), **out} if count else out
