"""What a supervisor looks for in a journal: sessions with their figures (filtered, sorted, paged), and full-text
search over transcripts, chat and OCR text with the hits marked.

The figures come from ``session_stats`` (kept by triggers, migrations 0005 and 0008), so a list of 10,000 sessions
is one indexed join, not a pass over a million events. Read-only: these take a reader connection, which never
upgrades a journal; for one whose figures predate 0008 the peak negative emotion is worked out from its insights.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, fields
from typing import Any

from assist.storage.schema import MIGRATION_SET, PEAK_MIGRATION, migrations, session_peak_sql

RECENT_WINDOW = 2000  # search ranks the most recent matches this many at most (see search_text)
HIT_OPEN, HIT_CLOSE = "\u27e6", "\u27e7"  # ⟦hit⟧: marks no message text is likely to contain
_WORD = re.compile(r"\w+")
SORT_COLUMNS = {
    "started": "s.started_at",
    "duration": "duration_s",
    "agent": "s.agent COLLATE NOCASE",
    "messages": "messages",
    "turns": "customer_turns",
    "peak_negative": "peak_negative",
    "escalations": "escalations",
    "suggestions": "suggestions",
    "acceptance": "acceptance",
}


@dataclass(frozen=True)
class SessionFilter:
    """Which sessions to list; every field narrows (defaults: all)."""

    agent: str = ""  # substring, case-insensitive
    since: float | None = None  # started at or after (epoch seconds)
    until: float | None = None  # started before
    source: str = ""  # chat, call, ...
    # the session's peak negative emotion at least this: some customer turn read this much of one of anger,
    # disgust, fear or sadness (one emotion's probability, not their sum; 0.5 and up: that emotion was the top one)
    min_peak_negative: float = 0.0
    escalated_only: bool = False
    min_duration_s: float = 0.0
    max_acceptance: float | None = None  # suggestions used / shown (sessions with suggestions only)
    session_id: str = ""  # one session


@dataclass(frozen=True)
class SessionSummary:
    id: str
    started_at: float
    ended_at: float | None
    duration_s: float
    agent: str
    source: str
    messages: int
    customer_turns: int
    peak_negative: float  # the highest probability of one negative emotion (anger, disgust, fear, sadness) in any turn
    peak_emotion: str  # which emotion that was ('' when no turn read any)
    escalations: int
    suggestions: int
    used: int
    origin: str = ""  # the journal a merged session was recorded in (its file name); '' for the journal's own
    interrupted: bool = False  # the app stopped without ending it (closed at its last event at the next start)

    @property
    def acceptance(self) -> float | None:
        return self.used / self.suggestions if self.suggestions else None

    @property
    def peak_text(self) -> str:
        """The peak negative emotion as a supervisor reads it: the emotion, then its probability ("sadness 60%")."""
        return f"{self.peak_emotion} {self.peak_negative:.0%}" if self.peak_emotion else "—"


@dataclass(frozen=True)
class SearchHit:
    session_id: str
    event_id: str
    kind: str
    role: str
    created_at: float
    snippet: str  # the matched words between HIT_OPEN and HIT_CLOSE
    agent: str
    started_at: float


# where a merged session was recorded (merge writes it into the capture JSON); instr first: most have none
_ORIGIN = ("CASE WHEN instr(s.capture, '\"merged_from\"') > 0 AND json_valid(s.capture) "
           "THEN coalesce(CAST(json_extract(s.capture, '$.merged_from') AS TEXT), '') ELSE '' END")
# a session the next start closed because the app had stopped without ending it (Journal: ended_by "crash")
_INTERRUPTED = ("CASE WHEN instr(s.capture, '\"ended_by\"') > 0 AND json_valid(s.capture) "
                "THEN json_extract(s.capture, '$.ended_by') = 'crash' ELSE 0 END")
_SELECT = (
    "SELECT s.id, s.started_at, s.ended_at, "
    "max(0, coalesce(s.ended_at, st.last_at, s.started_at) - s.started_at) AS duration_s, s.agent, s.source, "
    "coalesce(st.messages, 0) AS messages, coalesce(st.customer_turns, 0) AS customer_turns, "
    "coalesce(st.peak_negative, 0) AS peak_negative, coalesce(st.peak_emotion, ''), "
    "coalesce(st.escalations, 0) AS escalations, coalesce(st.suggestions, 0) AS suggestions, coalesce(st.used, 0), "
    f"{_ORIGIN}, {_INTERRUPTED}, "
    "CASE WHEN coalesce(st.suggestions, 0) > 0 THEN 1.0 * st.used / st.suggestions END AS acceptance "
    "FROM sessions s LEFT JOIN {stats} st ON st.session_id = s.id"
)
_PEAK, _PEAK_EMOTION = session_peak_sql("session_stats.session_id")
_STATS_BEFORE_0008 = (  # session_stats as migration 0008 leaves it, for a journal read before it was upgraded
    f"(SELECT session_id, messages, customer_turns, {_PEAK} AS peak_negative, {_PEAK_EMOTION} AS peak_emotion, "
    "escalations, suggestions, used, last_at FROM session_stats)"
)


def _stats(conn: sqlite3.Connection) -> str:
    """The per-session figures to join: ``session_stats``, or its peak worked out again when the journal's figures
    predate migration 0008 (then they hold the old sum of the four negative emotions, which this list never shows)."""
    upgraded = conn.execute(f"SELECT 1 FROM {migrations.migrations_table} WHERE migration_set = ? AND name = ?",
                            (MIGRATION_SET, PEAK_MIGRATION)).fetchone()
    return "session_stats" if upgraded else _STATS_BEFORE_0008


def _where(flt: SessionFilter) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if flt.session_id:
        clauses.append("s.id = ?")
        params.append(flt.session_id)
    if flt.agent:
        clauses.append("s.agent LIKE ? ESCAPE '\\'")
        params.append("%" + flt.agent.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if flt.since is not None:
        clauses.append("s.started_at >= ?")
        params.append(flt.since)
    if flt.until is not None:
        clauses.append("s.started_at < ?")
        params.append(flt.until)
    if flt.source:
        clauses.append("s.source = ?")
        params.append(flt.source)
    if flt.min_peak_negative > 0:
        clauses.append("coalesce(st.peak_negative, 0) >= ?")
        params.append(flt.min_peak_negative)
    if flt.escalated_only:
        clauses.append("coalesce(st.escalations, 0) > 0")
    if flt.min_duration_s > 0:
        clauses.append("max(0, coalesce(s.ended_at, st.last_at, s.started_at) - s.started_at) >= ?")
        params.append(flt.min_duration_s)
    if flt.max_acceptance is not None:
        clauses.append("coalesce(st.suggestions, 0) > 0 AND 1.0 * st.used / st.suggestions <= ?")
        params.append(flt.max_acceptance)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def list_sessions(conn: sqlite3.Connection, flt: SessionFilter | None = None, sort: str = "started",
                  descending: bool = True, limit: int = 500, offset: int = 0) -> list[SessionSummary]:
    """One page of sessions with their figures, sorted by ``sort`` (a key of SORT_COLUMNS)."""
    if sort not in SORT_COLUMNS:
        raise ValueError(f"cannot sort by {sort!r} (one of: {', '.join(SORT_COLUMNS)})")
    where, params = _where(flt or SessionFilter())
    order = f"{SORT_COLUMNS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, s.started_at DESC, s.id"
    sql = _SELECT.format(stats=_stats(conn))
    rows = conn.execute(f"{sql}{where} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset])
    return [_summary(tuple(row)) for row in rows]


_SUMMARY_FIELDS = [f.name for f in fields(SessionSummary)]


def _summary(row: tuple[Any, ...]) -> SessionSummary:
    """A row of ``_SELECT`` as a SessionSummary (its columns in the dataclass's order; acceptance is computed)."""
    values: dict[str, Any] = dict(zip(_SUMMARY_FIELDS, row))
    values["interrupted"] = bool(values.get("interrupted"))
    return SessionSummary(**values)


def count_sessions(conn: sqlite3.Connection, flt: SessionFilter | None = None) -> int:
    where, params = _where(flt or SessionFilter())
    sql = f"SELECT count(*) FROM sessions s LEFT JOIN {_stats(conn)} st ON st.session_id = s.id{where}"
    return int(conn.execute(sql, params).fetchone()[0])


def match_expression(text: str) -> str:
    """Free text as an FTS5 query that cannot be a syntax error: every word quoted, all of them required."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in _WORD.findall(text))


def search_text(conn: sqlite3.Connection, text: str, limit: int = 200, session_id: str | None = None
                ) -> list[SearchHit]:
    """Messages, transcripts and OCR text containing every word of ``text``, hits marked: the best ``limit``
    (BM25) among the ``RECENT_WINDOW`` most recent matches.

    Ranking every match of a common word ("order" in a quarter of a million-event journal) took 0.5-0.7 s;
    FTS5 walks its matches newest first without ranking them, so the window keeps every search near 20 ms.
    """
    match = match_expression(text)
    if not match:
        return []
    extra, params = ("AND rowid IN (SELECT rowid FROM events WHERE session_id = ?) ", [session_id]) if session_id \
        else ("", [])
    rows = conn.execute(
        f"WITH recent AS (SELECT rowid, rank, snippet(events_fts, 0, '{HIT_OPEN}', '{HIT_CLOSE}', '…', 16) AS snip "
        f"FROM events_fts WHERE events_fts MATCH ? {extra}ORDER BY rowid DESC LIMIT ?), "
        "top AS (SELECT * FROM recent ORDER BY rank LIMIT ?) "
        "SELECT e.session_id, e.id, e.kind, coalesce(e.role, ''), e.created_at, top.snip, s.agent, s.started_at "
        "FROM top JOIN events e ON e.rowid = top.rowid JOIN sessions s ON s.id = e.session_id ORDER BY top.rank",
        [match, *params, RECENT_WINDOW, limit])
    return [SearchHit(*tuple(row)) for row in rows]


__all__ = ["HIT_CLOSE", "HIT_OPEN", "SORT_COLUMNS", "SearchHit", "SessionFilter", "SessionSummary", "count_sessions",
           "list_sessions", "match_expression", "search_text"]
