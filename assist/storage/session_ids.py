"""Finding a session by the id a person typed: the whole id, or any unique start of it (the app shows only the
first 8 of its 32 hex characters, so those must be enough everywhere a session id is asked for)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from assist.storage.errors import AmbiguousSession, UnknownSession

CANDIDATES_SHOWN = 5  # sessions named when a prefix is ambiguous


def find_session_id(conn: sqlite3.Connection, text: str, journal: str | Path) -> str:
    """The full id of the one session of ``journal`` (open on ``conn``) whose id is ``text`` or starts with it,
    case-insensitively. Raises UnknownSession when none does, AmbiguousSession (naming a few) when several do."""
    wanted = text.strip()
    if not wanted:
        raise UnknownSession(journal, text)
    exact = conn.execute("SELECT id FROM sessions WHERE id = ?", (wanted,)).fetchone()
    if exact is not None:
        return str(exact[0])
    found = conn.execute(
        "SELECT id, agent, started_at, count(*) OVER () FROM sessions WHERE lower(substr(id, 1, ?)) = lower(?) "
        "ORDER BY started_at DESC, id LIMIT ?", (len(wanted), wanted, CANDIDATES_SHOWN)).fetchall()
    if not found:
        raise UnknownSession(journal, wanted)
    if len(found) == 1:
        return str(found[0][0])
    candidates = [f"{row[0]} ({row[1] or 'no agent'}, {time.strftime('%Y-%m-%d %H:%M', time.localtime(row[2]))})"
                  for row in found]
    raise AmbiguousSession(journal, wanted, candidates, int(found[0][3]))


__all__ = ["CANDIDATES_SHOWN", "find_session_id"]
