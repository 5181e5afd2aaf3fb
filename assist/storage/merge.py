"""Merging journals (bundles copied from agents' PCs) into one archive, without duplicating sessions.

Sessions keep their ids wherever they are copied, so a session already in the archive is skipped whole; new ones
come with every row that hangs off them (events, Insights, suggestions, feedback, annotations). Rows go in through
the archive's own triggers, so its full-text index and per-session figures cover them. Each source is checked
first (a damaged journal, another program's file or one from a newer Assist is refused and named) and read only.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from assist.storage.connection import open_reader, open_writer
from assist.storage.errors import StorageError, classify

TABLES = ("sessions", "events", "insights", "suggestions", "feedback", "annotations")  # parents first


@dataclass
class MergeReport:
    target: str
    sessions_added: int = 0
    sessions_skipped: int = 0  # already in the archive
    rows_added: int = 0
    problems: list[str] = field(default_factory=list)  # sources that could not be read, in words

    def summary(self) -> str:
        text = (f"{self.sessions_added} sessions added ({self.rows_added} rows), {self.sessions_skipped} already "
                f"in {self.target}")
        return text + (f"; {len(self.problems)} journals not merged" if self.problems else "")


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA {schema}.table_info({table})")]


def merge_journals(target: str | Path, sources: list[str | Path]) -> MergeReport:
    """Add the sessions of ``sources`` that ``target`` lacks (creating ``target`` when needed)."""
    target = Path(target).expanduser()
    report = MergeReport(str(target))
    conn, _ = open_writer(target)
    try:
        for raw in sources:
            source = Path(raw).expanduser()
            if source.resolve() == target.resolve():
                continue
            try:
                open_reader(source).close()  # a journal of ours, of a version we know, readable
            except StorageError as exc:
                report.problems.append(str(exc))
                continue
            try:
                _merge_one(conn, source, report)
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                report.problems.append(str(classify(exc, source, "be merged")))
    finally:
        conn.close()
    return report


def _merge_one(conn: sqlite3.Connection, source: Path, report: MergeReport) -> None:
    conn.execute("ATTACH DATABASE ? AS src", (f"{source.resolve().as_uri()}?mode=ro",))
    try:
        conn.execute("BEGIN IMMEDIATE")
        new = [r[0] for r in conn.execute("SELECT id FROM src.sessions WHERE id NOT IN (SELECT id FROM main.sessions)")]
        (total,) = conn.execute("SELECT count(*) FROM src.sessions").fetchone()
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS merging (id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM temp.merging")
        conn.executemany("INSERT INTO temp.merging VALUES (?)", [(i,) for i in new])
        source_tables = {r[0] for r in conn.execute("SELECT name FROM src.sqlite_master WHERE type = 'table'")}
        for table in TABLES:
            if table not in source_tables:  # an older journal: nothing of that kind to bring
                continue
            shared = [c for c in _columns(conn, "main", table) if c in set(_columns(conn, "src", table))]
            key = "id" if table == "sessions" else "session_id"
            cols = ", ".join(shared)
            report.rows_added += conn.execute(
                f"INSERT INTO main.{table} ({cols}) SELECT {cols} FROM src.{table} "
                f"WHERE {key} IN (SELECT id FROM temp.merging) ORDER BY rowid").rowcount
        conn.execute("COMMIT")
        report.sessions_added += len(new)
        report.sessions_skipped += total - len(new)
    finally:
        conn.execute("DETACH DATABASE src")


__all__ = ["MergeReport", "merge_journals"]
