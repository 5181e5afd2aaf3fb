"""Benchmark: how soon after the window shows can the agent start a session (issue 17: within 2 s on a first start).

    python benchmarks/bench_startup.py [--runs 3] [--record]

Each run starts ``assist run --offscreen`` as a user would, in a fresh home folder (a first start: no knowledge base,
reply bank or settings yet; the knowledge base is built from the bundled procedures) and then once more in the same
folder (a later start), and reads the app's own start-up log lines: "window shown", "models ready" (Start session
is enabled then) and "call models ready" (the voice and speech models, loaded after the window is ready). The figure
is models ready minus window shown.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import machine  # noqa: E402 (benchmarks/machine.py)

LINE = re.compile(r"startup: (window shown|models ready|call models ready) ([\d.]+) s after launch")
TIMEOUT_S = 120


def one_start(home: Path) -> dict[str, float]:
    """Start the app in ``home`` and return its start-up figures (seconds after launch)."""
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_DATA_HOME": str(home / "data"), "XDG_STATE_HOME": str(home / "state"),
           "XDG_CACHE_HOME": str(home / "cache"), "QT_QPA_PLATFORM": "offscreen"}
    app = subprocess.Popen([sys.executable, "-m", "assist", "run", "--offscreen", "--agent-name", "bench",
                            "--db", str(home / "journal.sqlite3")], env=env, cwd=REPO,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found: dict[str, float] = {}
    deadline = time.monotonic() + TIMEOUT_S
    try:
        assert app.stderr is not None
        for line in app.stderr:
            match = LINE.search(line)
            if match:
                found[match[1]] = float(match[2])
            if "call models ready" in found or time.monotonic() > deadline:
                break
    finally:
        app.terminate()
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    if "models ready" not in found or "window shown" not in found:
        raise SystemExit(f"the app did not report its start-up within {TIMEOUT_S} s: {found}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    first, later, calls = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="assist-start-") as folder:
            home = Path(folder)
            start = one_start(home)
            first.append(start["models ready"] - start["window shown"])
            calls.append(start.get("call models ready", float("nan")) - start["window shown"])
            again = one_start(home)
            later.append(again["models ready"] - again["window shown"])
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(),
              "start_session_after_window_s": {
                  "first_start_median": round(statistics.median(first), 2), "first_start_max": round(max(first), 2),
                  "later_start_median": round(statistics.median(later), 2),
                  "call_models_after_window_first_start_median": round(statistics.median(calls), 2)},
              "runs": args.runs}
    print(json.dumps(result, indent=2))
    if args.record:
        r = result["start_session_after_window_s"]
        lines = [
            f"\n## Start session after the window — {result['date']} — {result['machine']}\n",
            "| measure | target | result |", "|---|---|---|",
            f"| first start (fresh home: KB built from the bundled procedures), median of {args.runs} | <= 2 s | "
            f"{r['first_start_median']} s (max {r['first_start_max']} s) |",
            f"| later start, median | - | {r['later_start_median']} s |",
            f"| call models (voice, speech) ready after the window, first start | - | "
            f"{r['call_models_after_window_first_start_median']} s |",
            "\nCommand: `python benchmarks/bench_startup.py --record` (the app's own start-up log lines).\n",
        ]
        with (REPO / "benchmarks" / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines))


if __name__ == "__main__":
    main()
