"""Helpers every command group shares: errors in words, progress bars, ``--set KEY=VALUE`` options."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from assist.domain import ProgressState


def progress_bar(desc: str) -> tuple[ProgressState, Any]:
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=desc, unit="‰", file=sys.stderr, leave=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")

    def update(fraction: float, message: str) -> None:
        bar.update(int(fraction * 1000) - bar.n)
        bar.set_postfix_str(message, refresh=False)

    return ProgressState(update), bar


def fail(message: str, code: int = 2) -> int:
    print(f"assist: error: {message}", file=sys.stderr)
    return code


def option_value(kind: type, value: str) -> object:
    """A --set value as the option's type; booleans accept 1/0, true/false, yes/no."""
    if kind is bool:
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(value)
        return value.lower() in ("1", "true", "yes")
    return kind(value)


def apply_sets(opts: Any, items: Sequence[str] | None, what: str, reserved: Sequence[str] = ()) -> str:
    """Apply ``--set KEY=VALUE`` items to an options dataclass; returns a problem to report, or ""."""
    fields = type(opts).__dataclass_fields__
    for item in items or []:
        key, _, value = item.partition("=")
        if key not in fields or key in reserved:
            return f"unknown {what} {key!r}; known: {', '.join(k for k in fields if k not in reserved)}"
        kind = type(getattr(opts, key))
        try:
            setattr(opts, key, option_value(kind, value))
        except ValueError:
            return f"{what} {key} needs a {kind.__name__}, got {value!r}"
    return ""


def run_json_job(desc: str, job: Callable[[ProgressState], Any],
                 expected: tuple[type[BaseException], ...] = (FileNotFoundError,)) -> int:
    """Run ``job(state)`` under a progress bar and print its result as JSON; an ``expected`` error is said in words
    (exit 2), anything else is a bug and propagates."""
    state, bar = progress_bar(desc)
    try:
        result = job(state)
    except expected as exc:
        return fail(str(exc))
    finally:
        bar.close()
    print(json.dumps(result, indent=2))
    return 0


def backend_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"],
                   help="text model runtime: onnx (int8, shipped), torch, or auto (onnx when usable)")


def device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


__all__ = ["apply_sets", "backend_option", "device_option", "fail", "option_value", "progress_bar", "run_json_job"]
