"""Supervisor review over one or several journals, read-only: the session list, search, and one session's replay.

Each agent's PC keeps its own journal; a supervisor opens several at once. Sessions keep their ids wherever they
are copied, so a session found in two journals (a merged bundle beside the original) is listed once: the copy
with more recorded messages wins. Nothing here writes: every journal is opened through a read-only connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist.domain import used_suggestions
from assist.storage import StorageError
from assist.storage.reader import JournalReader
from assist.storage.review import SearchHit, SessionFilter, SessionSummary

NEGATIVE = ("anger", "disgust", "fear", "sadness")


@dataclass(frozen=True)
class ListedSession:
    summary: SessionSummary
    journal: Path


@dataclass(frozen=True)
class ReplayTurn:
    """One event of a session as the replay shows it (a customer turn carries its Insight and suggestions)."""

    event_id: str
    role: str
    kind: str
    text: str
    created_at: float
    meta: dict[str, Any]
    insight: dict[str, Any] | None = None
    suggestions: tuple[dict[str, Any], ...] = ()
    used: frozenset[str] = frozenset()  # ids of the suggestions the agent inserted or copied
    notes: tuple[str, ...] = ()  # supervisors' corrections and comments ("maria: emotion -> anger")

    @property
    def negative(self) -> float:
        probs = (self.insight or {}).get("emotion_probs") or {}
        return float(sum(probs.get(e, 0.0) for e in NEGATIVE))


@dataclass
class Replay:
    summary: SessionSummary
    journal: Path
    turns: list[ReplayTurn] = field(default_factory=list)

    @property
    def customer_turns(self) -> list[ReplayTurn]:
        return [t for t in self.turns if t.insight is not None]

    @property
    def recording(self) -> list[Path]:
        """Call recordings kept for this session (``sessions/<id>/*.ogg`` beside the journal)."""
        folder = self.journal.parent / "sessions" / self.summary.id
        return sorted(folder.glob("*.ogg")) if folder.is_dir() else []


class ReviewSource:
    """Several journals opened read-only; problems opening one are kept in ``problems`` and the rest still work."""

    def __init__(self, paths: list[str | Path]) -> None:
        self.readers: dict[Path, JournalReader] = {}
        self.problems: list[str] = []
        for raw in paths:
            path = Path(raw).expanduser().resolve()
            if path in self.readers:
                continue
            try:
                self.readers[path] = JournalReader(path)
            except StorageError as exc:
                self.problems.append(str(exc))

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()
        self.readers.clear()

    def __enter__(self) -> ReviewSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sessions(self, flt: SessionFilter | None = None, sort: str = "started", descending: bool = True,
                 limit: int = 500) -> list[ListedSession]:
        """The best ``limit`` sessions over every journal, each session once."""
        found: dict[str, ListedSession] = {}
        for path, reader in self.readers.items():
            for summary in reader.session_summaries(flt, sort, descending, limit):
                kept = found.get(summary.id)
                if kept is None or summary.messages > kept.summary.messages:
                    found[summary.id] = ListedSession(summary, path)
        rows = list(found.values())
        if len(self.readers) > 1:  # each journal came sorted; merge them the same way
            rows.sort(key=lambda r: _sort_key(r.summary, sort), reverse=descending)
        return rows[:limit]

    def count(self, flt: SessionFilter | None = None) -> int:
        if len(self.readers) == 1:
            return next(iter(self.readers.values())).count_sessions(flt)
        return len(self.sessions(flt, limit=10**9))

    def search(self, text: str, limit: int = 200) -> list[tuple[SearchHit, Path]]:
        hits: list[tuple[SearchHit, Path]] = []
        seen: set[str] = set()
        for path, reader in self.readers.items():
            for hit in reader.search_hits(text, limit):
                if hit.event_id not in seen:
                    seen.add(hit.event_id)
                    hits.append((hit, path))
        return hits[:limit]

    def replay(self, session_id: str, journal: Path | None = None) -> Replay | None:
        """Everything recorded in one session, in order; None when no open journal has it."""
        for path, reader in self.readers.items():
            if journal is not None and path != journal:
                continue
            summary = next((s for s in reader.session_summaries(_only(session_id), limit=1)), None)
            if summary is None:
                continue
            insights = {row["message_id"]: row for row in reader.insights(session_id)}
            notes = _annotation_notes(path, session_id)
            used = set(used_suggestions((row["suggestion_id"], row["action"]) for row in reader.feedback(session_id)))
            turns = []
            for event in reader.events(session_id):
                insight = insights.get(event["id"])
                suggestions = tuple(insight.get("suggestions", ())) if insight else ()
                meta = event.get("meta") or {}
                turns.append(ReplayTurn(event["id"], event.get("role") or "", event["kind"], event.get("text") or "",
                                        event["created_at"], meta if isinstance(meta, dict) else json.loads(meta),
                                        insight, suggestions, frozenset(s["id"] for s in suggestions) & used,
                                        tuple(notes.get(event["id"], ()))))
            return Replay(summary, path, turns)
        return None


def _annotation_notes(journal: Path, session_id: str) -> dict[str, list[str]]:
    """Per turn, the supervisors' annotations in words, oldest first (read-only; none in an older journal)."""
    from assist.storage.annotations import AnnotationStore

    notes: dict[str, list[str]] = {}
    try:
        found = AnnotationStore(journal).for_session(session_id)
    except StorageError:
        return notes
    for a in found:
        text = f"{a.author}: {a.value}" if a.field == "comment" else f"{a.author}: {a.field} → {a.value}"
        notes.setdefault(a.event_id or "", []).append(text)
    return notes


def _only(session_id: str) -> SessionFilter:
    return SessionFilter(session_id=session_id)


def _sort_key(summary: SessionSummary, sort: str) -> Any:
    if sort == "acceptance":
        return -1.0 if summary.acceptance is None else summary.acceptance
    if sort == "agent":
        return summary.agent.lower()
    return getattr(summary, {"started": "started_at", "turns": "customer_turns"}.get(sort, sort))


__all__ = ["ListedSession", "Replay", "ReplayTurn", "ReviewSource"]
