"""A supervisor's annotations on a journal: corrected emotion / intent labels of customer turns and comments.

Annotations live in their own table (migration 0006) with who and when; the model's outputs (insights) and the
conversation (events) are never changed. Each write opens its own short-lived connection, takes the write lock
with ``BEGIN IMMEDIATE`` (waiting up to the busy timeout), inserts one row and commits, so a running Assist (its
journal writer thread) and several supervisors can write the same file: WAL lets readers on, SQLite orders the
writers. While another writer keeps the lock, the write is retried a few times with backoff, then refused with
AnnotationsBusy. An SQLite authorizer on that connection refuses any statement but reads and inserts into
``annotations``.

Intents: storage cannot import the model's label set (assist.inference), so the allowed intents are a
constructor argument; without it any non-empty single-line name is accepted and the caller validates.
"""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from sqlite_utils import Database

from assist.domain import EKMAN_EMOTIONS
from assist.storage.connection import open_reader, open_writer
from assist.storage.errors import DatabaseUnavailable, JournalNotFound, classify, is_locked
from assist.storage.redaction import redact
from assist.storage.schema import migrations
from assist.storage.session_ids import find_session_id

FIELDS = ("emotion", "intent", "comment")
LABEL_FIELDS = ("emotion", "intent")
MAX_COMMENT_CHARS = 10_000
MAX_LABEL_CHARS = 100
BUSY_TIMEOUT_MS = 1500
ATTEMPTS = 4
BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 1.0


class AnnotationsBusy(DatabaseUnavailable):
    """Another writer (a supervisor saving, or Assist's journal writer) kept the journal locked through every
    retry. Nothing was saved; trying again later is safe."""

    def __init__(self, path: str | Path, detail: str = "") -> None:
        super().__init__(path, detail, locked=True)
        message = (f"The annotation was not saved: the journal at {path} is busy (another supervisor is saving, "
                   "or Assist is writing). Try again in a moment.")
        self.args = (f"{message} ({detail})" if detail else message,)


@dataclass(frozen=True)
class Annotation:
    """One saved annotation. ``event_id`` is None for a comment on the whole session."""

    id: str
    session_id: str
    event_id: str | None
    field: str  # 'emotion' | 'intent' | 'comment'
    value: str
    author: str
    created_at: float
    replaces: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LabelledTurn(NamedTuple):
    """A customer turn with the model's stored labels and the latest corrections (None where not corrected)."""

    text: str
    model_emotion: str | None
    model_intent: str | None
    emotion: str | None
    intent: str | None


_WRITE_OK = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_FUNCTION,
             getattr(sqlite3, "SQLITE_RECURSIVE", 33)}


def _only_annotation_inserts(action: int, arg1: str | None, arg2: str | None, db: str | None,
                             trigger: str | None) -> int:
    """The write connection's authorizer: reads, transactions, and INSERT INTO annotations; nothing else."""
    if action in _WRITE_OK or (action == sqlite3.SQLITE_INSERT and arg1 == "annotations"):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


_COLUMNS = "id, session_id, event_id, field, value, author, created_at, replaces"
_LATEST = (  # the latest label per (turn, field): commit order, which created_at follows (see _stamp)
    "SELECT event_id, field, value FROM (SELECT event_id, field, value, row_number() OVER "
    "(PARTITION BY event_id, field ORDER BY created_at DESC, rowid DESC) AS n FROM annotations "
    "WHERE field IN ('emotion', 'intent'){where}) WHERE n = 1"
)


class AnnotationStore:
    """Write and read a journal's annotations as ``author``; safe beside a running Assist and other supervisors.

    Without an ``author`` the store only reads (and never upgrades the journal: no annotations table, none).

    ``intents``: the allowed intent labels (the text model's; pass ``assist.inference.labels.INTENTS``). None
    accepts any non-empty single-line name. Raises DatabaseUnavailable / DatabaseCorrupt from the constructor
    when the journal cannot be opened, ValueError for a bad label or unknown turn, AnnotationsBusy when the
    journal stayed locked through every retry.
    """

    def __init__(self, path: str | Path, author: str | None = None, *, intents: Collection[str] | None = None,
                 busy_timeout_ms: int = BUSY_TIMEOUT_MS, attempts: int = ATTEMPTS,
                 backoff_s: float = BACKOFF_START_S) -> None:
        self.path = Path(path).expanduser()
        self.author = " ".join(str(author).split()) if author is not None else ""
        if author is not None and not self.author:
            raise ValueError("an annotation needs its author's name")
        self.intents = frozenset(intents) if intents is not None else None
        self.busy_timeout_ms = int(busy_timeout_ms)
        self.attempts = max(1, int(attempts))
        self.backoff_s = backoff_s
        self._upgrade(migrate=bool(self.author))

    # --- writes ---------------------------------------------------------------------------------

    def check(self, field: str, value: str) -> str:
        """The value as it would be stored (labels trimmed, emotions lower-case); ValueError when not allowed."""
        if field not in FIELDS:
            raise ValueError(f"cannot annotate {field!r} (one of: {', '.join(FIELDS)})")
        text = str(value).strip()
        if field == "comment":
            if not text:
                raise ValueError("a comment needs some text")
            if len(text) > MAX_COMMENT_CHARS:
                raise ValueError(f"a comment has at most {MAX_COMMENT_CHARS} characters")
            return text
        if field == "emotion":
            text = text.lower()
            if text not in EKMAN_EMOTIONS:
                raise ValueError(f"unknown emotion {value!r} (one of: {', '.join(EKMAN_EMOTIONS)})")
            return text
        if self.intents is not None and text not in self.intents:
            raise ValueError(f"unknown intent {value!r} (one of: {', '.join(sorted(self.intents))})")
        if not text or len(text) > MAX_LABEL_CHARS or any(ch in text for ch in "\r\n\t"):
            raise ValueError(f"an intent is a name of 1 to {MAX_LABEL_CHARS} characters on one line, not {value!r}")
        return text

    def annotate(self, event_id: str, field: str, value: str, *, replaces: str | None = None) -> Annotation:
        """Save a corrected label ('emotion' / 'intent') of a customer turn, or a comment on a turn.

        A label records the turn's previous latest label of that field as ``replaces`` unless one is given.
        """
        if field == "comment":
            return self.comment(event_id, value, replaces=replaces)
        value = self.check(field, value)

        def insert(conn: sqlite3.Connection) -> Annotation:
            row = conn.execute("SELECT session_id, role FROM events WHERE id = ?", (event_id,)).fetchone()
            if row is None:
                raise ValueError(f"no turn {event_id!r} in the journal at {self.path}")
            if row[1] != "customer":
                raise ValueError(f"only a customer's turn has emotion and intent labels (turn {event_id!r} is "
                                 f"the {row[1] or 'system'}'s)")
            previous = self._check_replaces(conn, replaces, event_id=event_id, field=field)
            if replaces is None:
                latest = conn.execute("SELECT id FROM annotations WHERE event_id = ? AND field = ? "
                                      "ORDER BY created_at DESC, rowid DESC LIMIT 1", (event_id, field)).fetchone()
                previous = latest[0] if latest else None
            return self._insert(conn, row[0], event_id, field, value, previous)

        return self._write(insert)

    def comment(self, target: str, text: str, *, replaces: str | None = None) -> Annotation:
        """Save a comment on a turn (``target`` an event id) or on a whole session (a session id).

        The text is redacted like the conversation when the session was recorded with redaction on.
        ``replaces`` names an earlier comment on the same turn or session that this one corrects.
        """
        text = self.check("comment", text)

        def insert(conn: sqlite3.Connection) -> Annotation:
            row = conn.execute("SELECT e.session_id, e.id, s.redaction_enabled FROM events e JOIN sessions s "
                               "ON s.id = e.session_id WHERE e.id = ?", (target,)).fetchone()
            if row is None:
                row = conn.execute("SELECT id, NULL, redaction_enabled FROM sessions WHERE id = ?",
                                   (target,)).fetchone()
            if row is None:
                raise ValueError(f"no turn or session {target!r} in the journal at {self.path}")
            session_id, event_id, redacting = row
            self._check_replaces(conn, replaces, event_id=event_id, session_id=session_id, field="comment")
            return self._insert(conn, session_id, event_id, "comment", redact(text).text if redacting else text,
                                replaces)

        return self._write(insert)

    # --- reads (a read-only connection per call) ---------------------------------------------

    def find_session(self, text: str) -> str:
        """The full id of the one session whose id is ``text`` or starts with it (the app shows 8 characters);
        UnknownSession / AmbiguousSession otherwise (see ``session_ids.find_session_id``)."""
        conn = open_reader(self.path, self.busy_timeout_ms)
        try:
            return find_session_id(conn, text, self.path)
        except sqlite3.Error as exc:
            raise classify(exc, self.path, "be read") from exc
        finally:
            conn.close()

    def annotations(self, session_id: str | None = None) -> list[Annotation]:
        """Every annotation (of one session, or of the journal), oldest first."""
        where, params = (" WHERE session_id = ?", (session_id,)) if session_id else ("", ())
        rows = self._read(f"SELECT {_COLUMNS} FROM annotations{where} ORDER BY created_at, rowid", params)
        return [Annotation(*row) for row in rows]

    def for_session(self, session_id: str) -> list[Annotation]:
        """A session's annotations (labels and comments on its turns, comments on it), oldest first."""
        return self.annotations(session_id)

    def latest_labels(self, session_id: str | None = None) -> dict[str, dict[str, str | None]]:
        """event id -> {"emotion": ..., "intent": ...}: the latest correction of each field (None if none)."""
        where, params = (" AND session_id = ?", (session_id,)) if session_id else ("", ())
        labels: dict[str, dict[str, str | None]] = {}
        for event_id, field, value in self._read(_LATEST.format(where=where), params):
            labels.setdefault(event_id, {"emotion": None, "intent": None})[field] = value
        return labels

    def labelled_turns(self, session_id: str | None = None) -> list[LabelledTurn]:
        """Corrected customer turns with the model's stored labels (turns with an insight), in journal order."""
        where, params = (" AND session_id = ?", (session_id,)) if session_id else ("", ())
        sql = (
            f"WITH latest AS ({_LATEST.format(where=where)}), "
            "model AS (SELECT message_id, emotion, intent, row_number() OVER (PARTITION BY message_id "
            "ORDER BY created_at DESC, rowid DESC) AS n FROM insights WHERE message_id IN (SELECT event_id FROM latest)) "
            "SELECT coalesce(e.text, ''), m.emotion, m.intent, max(CASE WHEN l.field = 'emotion' THEN l.value END), "
            "max(CASE WHEN l.field = 'intent' THEN l.value END) FROM latest l JOIN events e ON e.id = l.event_id "
            "JOIN model m ON m.message_id = e.id AND m.n = 1 GROUP BY e.id ORDER BY e.created_at, e.rowid"
        )
        return [LabelledTurn(*row) for row in self._read(sql, params)]

    # --- internals ------------------------------------------------------------------------------

    def _upgrade(self, migrate: bool) -> None:
        """Check the journal; apply pending migrations (the annotations table) once when ``migrate``."""
        conn = open_reader(self.path, self.busy_timeout_ms)
        try:
            pending = migrations.pending(Database(conn, execute_plugins=False))
        except sqlite3.Error as exc:
            raise classify(exc, self.path, "be read") from exc
        finally:
            conn.close()
        if pending and migrate:
            writer, _ = open_writer(self.path, self.busy_timeout_ms)
            writer.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.set_authorizer(_only_annotation_inserts)
        return conn

    def _write(self, insert: Callable[[sqlite3.Connection], Annotation]) -> Annotation:
        """Run ``insert`` in its own short ``BEGIN IMMEDIATE`` transaction; retry while the journal is locked."""
        if not self.author:
            raise ValueError("this annotation store only reads: give an author's name to annotate")
        if not self.path.is_file():
            raise JournalNotFound(self.path)
        delay, last = self.backoff_s, ""
        for attempt in range(self.attempts):
            conn: sqlite3.Connection | None = None
            try:
                conn = self._connect()
                conn.execute("BEGIN IMMEDIATE")
                saved = insert(conn)
                conn.execute("COMMIT")
                return saved
            except sqlite3.Error as exc:
                if not is_locked(exc):
                    raise classify(exc, self.path, "save the annotation") from exc
                last = str(exc)
            finally:
                if conn is not None:
                    try:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                    finally:
                        conn.close()
            if attempt + 1 < self.attempts:
                time.sleep(delay * random.uniform(1.0, 1.5))  # jitter: two waiting supervisors do not collide again
                delay = min(delay * 2, BACKOFF_MAX_S)
        raise AnnotationsBusy(self.path, last)

    def _insert(self, conn: sqlite3.Connection, session_id: str, event_id: str | None, field: str, value: str,
                replaces: str | None) -> Annotation:
        saved = Annotation(uuid.uuid4().hex, session_id, event_id, field, value, self.author,
                           self._stamp(conn, session_id, event_id), replaces)
        conn.execute(f"INSERT INTO annotations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", tuple(asdict(saved).values()))
        return saved

    @staticmethod
    def _stamp(conn: sqlite3.Connection, session_id: str, event_id: str | None) -> float:
        """Now, but after the target's last annotation: under the write lock, so created_at follows commit order
        (the latest saved label wins even when two clocks disagree by a little)."""
        if event_id is None:
            last = conn.execute("SELECT max(created_at) FROM annotations WHERE session_id = ?", (session_id,))
        else:
            last = conn.execute("SELECT max(created_at) FROM annotations WHERE event_id = ?", (event_id,))
        previous = last.fetchone()[0]
        now = time.time()
        return now if previous is None or now > previous else previous + 1e-6

    @staticmethod
    def _check_replaces(conn: sqlite3.Connection, replaces: str | None, *, field: str, event_id: str | None = None,
                        session_id: str | None = None) -> str | None:
        if replaces is None:
            return None
        row = conn.execute("SELECT event_id, session_id, field FROM annotations WHERE id = ?", (replaces,)).fetchone()
        same_target = row is not None and row[0] == event_id and (event_id is not None or row[1] == session_id)
        if not same_target or row[2] != field:
            raise ValueError(f"annotation {replaces!r} is not an earlier {field} on the same "
                             f"{'turn' if event_id else 'session'}")
        return replaces

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = open_reader(self.path, self.busy_timeout_ms)
        conn.row_factory = None
        try:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]
        except sqlite3.OperationalError as exc:
            if "no such table: annotations" in str(exc):
                return []  # a journal from before annotations, opened read-only: nothing annotated yet
            raise classify(exc, self.path, "read its annotations") from exc
        except sqlite3.Error as exc:
            raise classify(exc, self.path, "read its annotations") from exc
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"AnnotationStore({str(self.path)!r}, author={self.author!r})"


__all__ = ["FIELDS", "Annotation", "AnnotationStore", "AnnotationsBusy", "LabelledTurn"]
