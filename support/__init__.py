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

TWIN_IDS = ("02aaabda" + "1" * 24, "02aaabdb" + "2" * 24)  # session ids sharing their first 7 characters
OTHER_ID = "7f00c0de" + "3" * 24


def twin_sessions_journal(path: Path) -> Path:
    """A journal of three ended sessions with one customer turn each; two of them (TWIN_IDS) share the start of
    their ids, for finding a session by the 8 characters the app shows."""
    from assist.domain import ChatMessage, Role, Session
    from assist.storage import Journal

    journal = Journal(path)
    for session_id, agent in ((TWIN_IDS[0], "dana"), (TWIN_IDS[1], "ali"), (OTHER_ID, "sam")):
        journal.start_session(Session(id=session_id, agent=agent))
        journal.record_message(ChatMessage(session_id=session_id, role=Role.CUSTOMER, text=f"hello from {agent}"))
        journal.end_session(session_id)
    if not journal.flush(10):
        raise RuntimeError(f"the journal {path} did not take the sessions in time")
    journal.close()
    return path


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


__all__ = ["OTHER_ID", "REPO", "TWIN_IDS", "copy_journal", "data_dir", "run_assist", "twin_sessions_journal"]
