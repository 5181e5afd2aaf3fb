"""Read-only access to a journal, on its own connection (safe beside a running Journal)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from types import TracebackType
from typing import Any

from assist.domain import EmotionEstimate, Escalation, EscalationLevel, Insight, LabelEstimate, Suggestion
from assist.storage.annotations import Annotation
from assist.storage.connection import DEFAULT_BUSY_TIMEOUT_MS, open_reader
from assist.storage.errors import classify
from assist.storage.review import SearchHit, SessionFilter, SessionSummary, count_sessions, list_sessions, search_text
from assist.storage.review import match_expression as fts_query
from assist.storage.schema import JSON_COLUMNS
from assist.storage.session_ids import find_session_id


class JournalReader:
    """Query sessions, events, insights (with suggestions), feedback and text search."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self.path = Path(path).expanduser()
        self._conn = open_reader(self.path, busy_timeout_ms)
        self._lock = threading.Lock()

    def sessions(self) -> list[dict[str, Any]]:
        """All sessions, oldest first; ``redaction_enabled`` as a bool, ``capture`` decoded."""
        found = self._decode("sessions", self._query("SELECT * FROM sessions ORDER BY started_at, rowid"))
        for row in found:
            row["redaction_enabled"] = bool(row["redaction_enabled"])
        return found

    def find_session(self, text: str) -> str:
        """The full id of the one session whose id is ``text`` or starts with it (the app shows 8 characters);
        UnknownSession / AmbiguousSession otherwise (see ``session_ids.find_session_id``)."""
        try:
            with self._lock:
                return find_session_id(self._conn, text, self.path)
        except sqlite3.Error as exc:
            raise classify(exc, self.path, "read from it") from exc

    def events(self, session_id: str) -> list[dict[str, Any]]:
        """A session's events in order; ``redactions`` decoded to a dict of counts."""
        sql = "SELECT * FROM events WHERE session_id = ? ORDER BY created_at, rowid"
        return self._decode("events", self._query(sql, (session_id,)))

    def insights(self, session_id: str) -> list[dict[str, Any]]:
        """A session's insights in order, JSON decoded, each with its ``suggestions`` by rank."""
        found = self._decode("insights", self._query(
            "SELECT * FROM insights WHERE session_id = ? ORDER BY created_at, rowid", (session_id,)
        ))  # fmt: skip
        by_insight: dict[str, list[dict[str, Any]]] = {row["id"]: [] for row in found}
        for suggestion in self._query("SELECT * FROM suggestions WHERE session_id = ? ORDER BY rank", (session_id,)):
            by_insight.setdefault(suggestion["insight_id"], []).append(suggestion)
        for row in found:
            row["suggestions"] = by_insight[row["id"]]
        return found

    def feedback(self, session_id: str) -> list[dict[str, Any]]:
        """What the agent did with suggestions in a session, in order."""
        return self._query("SELECT * FROM feedback WHERE session_id = ? ORDER BY created_at, rowid", (session_id,))

    def annotations(self, session_id: str) -> list[Annotation]:
        """Supervisors' corrections and comments on a session and its turns, oldest first; none in a journal from
        before annotations (migration 0006), which a reader never upgrades."""
        if not self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'annotations'"):
            return []
        columns = ", ".join(f.name for f in fields(Annotation))
        sql = f"SELECT {columns} FROM annotations WHERE session_id = ? ORDER BY created_at, rowid"
        return [Annotation(**row) for row in self._query(sql, (session_id,))]

    def suggestion_history(self, limit: int = 200_000) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
        """Suggestions shown as (kb_entry_id, intent) and agent actions as (kb_entry_id, intent, action), newest
        first, for ranking replies by what agents used before."""
        shown = self._query(
            "SELECT s.kb_entry_id AS key, i.intent AS intent FROM suggestions s JOIN insights i ON i.id = s.insight_id "
            "WHERE s.kb_entry_id != '' ORDER BY i.created_at DESC LIMIT ?", (limit,))
        actions = self._query(
            "SELECT s.kb_entry_id AS key, i.intent AS intent, f.action AS action FROM feedback f "
            "JOIN suggestions s ON s.id = f.suggestion_id JOIN insights i ON i.id = s.insight_id "
            "WHERE s.kb_entry_id != '' ORDER BY f.created_at DESC LIMIT ?", (limit,))
        return [(r["key"], r["intent"]) for r in shown], [(r["key"], r["intent"], r["action"]) for r in actions]

    def search(self, text: str, limit: int = 100) -> list[dict[str, Any]]:
        """Events whose (stored, possibly redacted) text contains every word of ``text``."""
        query = fts_query(text)
        if not query:
            return []
        sql = (
            "SELECT events.* FROM events JOIN events_fts ON events_fts.rowid = events.rowid "
            "WHERE events_fts MATCH ? ORDER BY events_fts.rank LIMIT ?"
        )
        return self._decode("events", self._query(sql, (query, limit)))

    def session_summaries(self, flt: SessionFilter | None = None, sort: str = "started", descending: bool = True,
                          limit: int = 500, offset: int = 0) -> list[SessionSummary]:
        """A page of sessions with their figures (see ``review.list_sessions``)."""
        with self._lock:
            return list_sessions(self._conn, flt, sort, descending, limit, offset)

    def count_sessions(self, flt: SessionFilter | None = None) -> int:
        with self._lock:
            return count_sessions(self._conn, flt)

    def search_hits(self, text: str, limit: int = 200, session_id: str | None = None) -> list[SearchHit]:
        """Full-text hits with the matched words marked (see ``review.search_text``)."""
        with self._lock:
            return search_text(self._conn, text, limit, session_id)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        try:
            with self._lock:
                return [dict(row) for row in self._conn.execute(sql, params).fetchall()]
        except sqlite3.Error as exc:
            raise classify(exc, self.path, "read from it") from exc

    @staticmethod
    def _decode(table: str, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in found:
            for column in JSON_COLUMNS[table]:
                if row.get(column) is not None:
                    row[column] = json.loads(row[column])
        return found


def stored_insight(row: Mapping[str, Any]) -> Insight:
    """The Insight an ``insights()`` row was written from, as the live window had it: the same labels and
    confidences, and the conversation's intent (stored since migration 0007; none before) beside the turn's own.
    What the journal does not keep (the conversation intent's distribution) is left empty; text is as stored
    (redacted when the session was)."""
    emotions = {str(k): float(v) for k, v in (row.get("emotion_probs") or {}).items()}
    if not emotions and row.get("emotion"):  # a row written without its distribution: its label still reads right
        emotions = {str(row["emotion"]): float(row.get("emotion_confidence") or 0.0)}
    goal = row.get("conversation_intent") or ""
    return Insight(
        session_id=str(row.get("session_id") or ""), message_id=str(row.get("message_id") or ""), emotion=EmotionEstimate(emotions),
        sentiment=_estimate(row, "sentiment"), intent=_estimate(row, "intent"),
        escalation=Escalation(_level(row.get("escalation_level")), float(row.get("escalation_score") or 0.0),
                              tuple(str(r) for r in row.get("escalation_reasons") or ())),
        suggestions=tuple(Suggestion(str(s["id"]), s.get("text") or "", s.get("source_title") or "",
                                     float(s.get("score") or 0.0), s.get("kb_entry_id") or "")
                          for s in row.get("suggestions") or ()),
        model_versions=dict(row.get("model_versions") or {}), timings_ms=dict(row.get("timings_ms") or {}),
        notes=tuple(str(n) for n in row.get("notes") or ()), device=row.get("device") or "cpu", id=str(row.get("id") or ""),
        created_at=float(row.get("created_at") or 0.0), contributions=dict(row.get("contributions") or {}),
        conversation_intent=LabelEstimate(goal, float(row.get("conversation_intent_confidence") or 0.0))
        if goal else None,
    )  # fmt: skip


def _level(value: object) -> EscalationLevel:
    """A stored escalation level; low for none (or a name this version does not know)."""
    try:
        return EscalationLevel(str(value or EscalationLevel.LOW.value))
    except ValueError:
        return EscalationLevel.LOW


def _estimate(row: Mapping[str, Any], head: str) -> LabelEstimate:
    return LabelEstimate(row.get(head) or "", float(row.get(f"{head}_confidence") or 0.0),
                         {str(k): float(v) for k, v in (row.get(f"{head}_probs") or {}).items()})


__all__ = ["JournalReader", "fts_query", "stored_insight"]
