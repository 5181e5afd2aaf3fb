"""Helpers the tests and the benchmarks share: the repository's folders, copies of journals, the ``assist`` command,
real devices (``support.pulse``: a PulseAudio null sink) and seeded journals (``support.pii_journal``).

No test doubles here: those live in ``tests/``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from assist.paths import ROOT as REPO
from assist.paths import shared_data_dir as data_dir


def copy_journal(source: Path, dest: Path) -> Path:
    """A consistent copy of a journal (SQLite's VACUUM INTO: no half-copied WAL), for tests that change it."""
    conn = sqlite3.connect(source)
    try:
        conn.execute("VACUUM INTO ?", (str(dest),))
    finally:
        conn.close()
    return dest


def run_assist(*args: str, timeout: int = 300, **env: str) -> subprocess.CompletedProcess:
    """``python -m assist ARGS`` in the repository, offscreen; its output captured as text."""
    full_env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **env}
    return subprocess.run([sys.executable, "-m", "assist", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=full_env)


__all__ = ["REPO", "copy_journal", "data_dir", "run_assist"]
