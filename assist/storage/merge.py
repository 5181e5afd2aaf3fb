"""Merging journals (bundles copied from agents' PCs) into one archive, without duplicating sessions.

Sessions keep their ids wherever they are copied, so a session already in the archive is skipped whole; new ones
come with every row that hangs off them (events, Insights, suggestions, feedback, annotations). Rows go in through
the archive's own triggers, so its full-text index and per-session figures cover them. Each source is checked
first (a damaged journal, another program's file or one from a newer Assist is refused and named) and read only.

A new session's folder of screenshots and recordings is copied (never moved) from beside its journal to beside the
archive, once its rows are committed: readers find a session's files by name in that folder (``session_files``),
so rows keep the paths they were written with. Each merged session records the file name of the journal it was
recorded in (``merged_from`` in its ``capture`` JSON; an earlier merge's kept), which the review list shows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from assist.storage.connection import open_reader, open_writer
from assist.storage.errors import StorageError, classify
from assist.storage.session_files import copy_session_files

TABLES = ("sessions", "events", "insights", "suggestions", "feedback", "annotations")  # parents first


@dataclass
class MergeReport:
    target: str
    sessions_added: int = 0
    sessions_skipped: int = 0  # already in the archive
    rows_added: int = 0
    files_copied: int = 0  # screenshots and recordings of the sessions added
    journals_not_merged: int = 0
    files_not_copied: int = 0
    problems: list[str] = field(default_factory=list)  # journals not merged, files not copied: in words

    def summary(self) -> str:
        files = f", {self.files_copied} files" if self.files_copied else ""
        text = (f"{self.sessions_added} sessions added ({self.rows_added} rows{files}), {self.sessions_skipped} "
                f"already in {self.target}")
        if self.journals_not_merged:
            text += f"; {self.journals_not_merged} journals not merged"
        return text + (f"; {self.files_not_copied} files not copied" if self.files_not_copied else "")


_CAPTURE = "CASE WHEN NOT json_valid(capture) THEN '{}' WHEN json_type(capture) = 'object' THEN capture ELSE '{}' END"
# the session's capture JSON with ``merged_from``: the journal it was recorded in (that of an earlier merge kept)
_WITH_ORIGIN = f"json_set({_CAPTURE}, '$.merged_from', coalesce(json_extract({_CAPTURE}, '$.merged_from'), :journal))"


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
                report.journals_not_merged += 1
                report.problems.append(str(exc))
                continue
            try:
                added = _merge_one(conn, source, report)
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                report.journals_not_merged += 1
                report.problems.append(str(classify(exc, source, "be merged")))
                continue
            _copy_files(source, target, added, report)
    finally:
        conn.close()
    return report


def _copy_files(source: Path, target: Path, session_ids: list[str], report: MergeReport) -> None:
    """Copy the added sessions' folders; a file that cannot be copied is said, and the rows stay merged."""
    for session_id in session_ids:
        copied, problems = copy_session_files(source, target, session_id)
        report.files_copied += copied
        report.files_not_copied += len(problems)
        report.problems.extend(problems)


def _merge_one(conn: sqlite3.Connection, source: Path, report: MergeReport) -> list[str]:
    """Insert the source's sessions the archive lacks, in one transaction; returns their ids."""
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
        conn.execute(f"UPDATE main.sessions SET capture = {_WITH_ORIGIN} WHERE id IN (SELECT id FROM temp.merging)",
                     {"journal": source.name})
        conn.execute("COMMIT")
        report.sessions_added += len(new)
        report.sessions_skipped += total - len(new)
    finally:
        conn.execute("DETACH DATABASE src")
    return new


__all__ = ["MergeReport", "merge_journals"]
