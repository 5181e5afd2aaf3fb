"""Privacy controls on a journal: an audit that finds PII left in stored text, and the retention policy.

``scan`` reads every stored text column (messages, transcripts and OCR text, their metadata, Insight notes,
suggestions) through the same detectors the redaction uses and counts what they would still replace: after
redaction-on sessions that count should be zero. It reports where (table, column, kind) and never the values.
Sessions recorded with redaction off are counted apart: raw text there is what the agent chose.

``apply_retention`` deletes sessions older than N days with everything that hangs off them (events, Insights,
suggestions, feedback, and the session's folder of screenshots and recordings beside the journal), then VACUUMs
so the deleted text is gone from the file too. Run it when no writer has the journal open (at start-up, or from
the CLI); it takes the write lock for one short transaction.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from assist.storage.connection import open_reader, open_writer
from assist.storage.errors import StorageError, classify
from assist.storage.redaction import redact
from assist.storage.session_files import is_plain_id, session_folder

SCANNED = (  # (table, column, session id column) of every stored free text
    ("events", "text", "session_id"),
    ("events", "meta", "session_id"),
    ("insights", "notes", "session_id"),
    ("insights", "escalation_reasons", "session_id"),
    ("suggestions", "text", "session_id"),
    ("sessions", "agent", "id"),
    ("annotations", "value", "session_id"),  # supervisors' comments
)
BATCH = 5000
DAY_S = 86400.0


@dataclass
class ScanReport:
    """PII found per (table.column, kind), in sessions recorded with redaction on and apart those with it off."""

    path: str
    rows: int = 0
    leaks: Counter = field(default_factory=Counter)  # "events.text:email" -> count (redaction-on sessions)
    unredacted_sessions: int = 0  # sessions recorded with redaction off (raw text by the agent's choice)
    in_unredacted: int = 0  # PII found in those
    sessions_with_leaks: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(self.leaks.values())

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "rows_scanned": self.rows, "leaks": self.total, "by_place": dict(self.leaks),
                "sessions_with_leaks": len(self.sessions_with_leaks),
                "sessions_recorded_without_redaction": self.unredacted_sessions,
                "pii_in_sessions_without_redaction": self.in_unredacted}


def scan(path: str | Path) -> ScanReport:
    """Count PII patterns left in a journal's stored text (read-only; never prints or keeps a value)."""
    path = Path(path).expanduser()
    conn = open_reader(path)
    report = ScanReport(str(path))
    try:
        raw = {r[0] for r in conn.execute("SELECT id FROM sessions WHERE redaction_enabled = 0")}
        report.unredacted_sessions = len(raw)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, column, session_col in SCANNED:
            if table not in tables:  # an older journal, read as it is
                continue
            cursor = conn.execute(f"SELECT {session_col}, {column} FROM {table} WHERE {column} IS NOT NULL "
                                  f"AND {column} != ''")
            while rows := cursor.fetchmany(BATCH):
                report.rows += len(rows)
                for session_id, text in rows:
                    found = redact(str(text)).counts
                    if not found:
                        continue
                    if session_id in raw:
                        report.in_unredacted += sum(found.values())
                        continue
                    report.sessions_with_leaks.add(session_id)
                    for kind, count in found.items():
                        report.leaks[f"{table}.{column}:{kind}"] += count
    except sqlite3.Error as exc:
        raise classify(exc, path, "be scanned") from exc
    finally:
        conn.close()
    return report


@dataclass
class RetentionReport:
    path: str
    days: float
    sessions_deleted: int = 0
    rows_deleted: int = 0
    folders_deleted: int = 0
    bytes_before: int = 0
    bytes_after: int = 0

    def summary(self) -> str:
        freed = max(0, self.bytes_before - self.bytes_after) / 2**20
        return (f"{self.sessions_deleted} sessions older than {self.days:g} days deleted ({self.rows_deleted} rows, "
                f"{self.folders_deleted} session folders); {freed:.1f} MB freed")


def apply_retention(path: str | Path, days: float, now: float | None = None, vacuum: bool = True) -> RetentionReport:
    """Delete sessions that started more than ``days`` ago, their rows and files; then VACUUM to give the space back.

    The delete runs with ``secure_delete`` on, so the deleted text is overwritten in the file whether or not a VACUUM
    follows: at start-up (``vacuum=False``) the app does not spend seconds rewriting a big journal for the privacy
    it already has; ``assist privacy retention`` also reclaims the space.
    """
    if days <= 0:
        raise ValueError("the retention period must be more than 0 days")
    path = Path(path).expanduser()
    report = RetentionReport(str(path), days)
    if not path.is_file():
        return report
    report.bytes_before = _size(path)
    cutoff = (now if now is not None else time.time()) - days * DAY_S
    conn, _ = open_writer(path)
    try:
        conn.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed: deleted text leaves the file
        conn.execute("BEGIN IMMEDIATE")
        old = [r[0] for r in conn.execute("SELECT id FROM sessions WHERE started_at < ?", (cutoff,))]
        for start in range(0, len(old), 500):
            part = old[start : start + 500]
            marks = ",".join("?" * len(part))
            for table in ("feedback", "suggestions", "insights", "events"):
                report.rows_deleted += conn.execute(f"DELETE FROM {table} WHERE session_id IN ({marks})", part).rowcount
            conn.execute(f"DELETE FROM session_stats WHERE session_id IN ({marks})", part)  # derived figures
            report.rows_deleted += conn.execute(f"DELETE FROM sessions WHERE id IN ({marks})", part).rowcount
        if old:  # FTS5 keeps a deleted row's words in its index segments until they are merged: merge them now
            conn.execute("INSERT INTO events_fts(events_fts) VALUES ('optimize')")
        conn.execute("COMMIT")
        report.sessions_deleted = len(old)
        if old:
            if vacuum:
                conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the deleted pages' old copies leave the log too
    except (sqlite3.Error, OSError) as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise classify(exc, path, "apply the retention policy") from exc
    finally:
        conn.close()
    for session_id in old:
        folder = session_folder(path, session_id)
        if is_plain_id(session_id) and folder.is_dir():  # never a folder outside sessions/ (an id like "..")
            shutil.rmtree(folder, ignore_errors=True)
            report.folders_deleted += not folder.exists()
    report.bytes_after = _size(path)
    return report


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


__all__ = ["RetentionReport", "ScanReport", "StorageError", "apply_retention", "scan", "session_folder"]
