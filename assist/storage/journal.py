"""The conversation journal: a non-blocking, redacting front door to one SQLite file.

Every public method may be called from any thread and only enqueues; one writer thread
(``assist-journal-writer``) owns the write connection. Text is redacted here, in the calling
thread, before a row is queued.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from assist.domain import ChatMessage, Feedback, Insight, Session
from assist.storage import rows
from assist.storage.connection import DEFAULT_BUSY_TIMEOUT_MS, default_journal_path, open_writer
from assist.storage.errors import StorageError
from assist.storage.writer import JournalWriter


def _installed_version() -> str:
    from assist._version import __version__

    return __version__


class Journal:
    """Records sessions, messages, insights (with suggestions) and feedback to SQLite.

    Raises DatabaseCorrupt / DatabaseUnavailable from the constructor; later write errors
    go to ``on_error`` (called on the writer thread) and never to the caller.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        redaction: bool = True,
        on_error: Callable[[StorageError], None] | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        app_version: str | None = None,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_journal_path()
        self.redaction = redaction
        self.app_version = _installed_version() if app_version is None else app_version
        self._on_error = on_error
        conn, self.migrations_applied = open_writer(self.path, busy_timeout_ms)
        self.interrupted_sessions = close_interrupted_sessions(conn)
        self._writer = JournalWriter(conn, self.path, self._report, busy_timeout_ms / 1000)

    # --- writes (enqueue only) ------------------------------------------------------------

    def start_session(self, session: Session) -> None:
        """Queue the session row. This journal's ``redaction`` flag decides and is what the row
        records as ``redaction_enabled``; ``session.redaction_enabled`` is not consulted."""
        self._writer.submit(rows.session_op(session, self.redaction, self.app_version))

    def record_message(self, msg: ChatMessage) -> None:
        """Queue one chat message as an event (text redacted when redaction is on)."""
        self._writer.submit(rows.message_op(msg, self.redaction))

    def record_insight(self, insight: Insight) -> None:
        """Queue the insight and its suggestions, written together in one transaction."""
        self._writer.submit(rows.insight_op(insight, self.redaction))

    def record_feedback(self, fb: Feedback) -> None:
        """Queue what the agent did with a suggestion."""
        self._writer.submit(rows.feedback_op(fb))

    def record_role_correction(self, message_id: str, role: str, at: float | None = None) -> None:
        """Queue a correction of who said a message (the agent fixed the speaker switch afterwards): the event's role
        changes and its meta records the former role and when (``role_corrected``)."""
        self._writer.submit(rows.role_correction_op(message_id, role, time.time() if at is None else at))

    def record_capture_stats(self, session_id: str, stats: dict[str, Any]) -> None:
        """Queue the call-capture statistics of a session (per channel: seconds, overflows, drops, errors)."""
        self._writer.submit(rows.capture_stats_op(session_id, stats))

    def end_session(self, session_id: str, ended_at: float | None = None) -> None:
        """Queue the session's end time (now, unless given)."""
        self._writer.submit(rows.end_session_op(session_id, time.time() if ended_at is None else ended_at))

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        """Rows queued but not yet committed."""
        return self._writer.pending

    @property
    def running(self) -> bool:
        """True while the writer thread is alive."""
        return self._writer.thread.is_alive()

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until everything queued so far is written; False if ``timeout`` ran out."""
        return self._writer.flush(timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is still queued, then stop the writer; True when no row was lost.

        While the database stays locked, gives up after ``timeout`` and reports the number of
        unwritten rows through ``on_error``. Later writes raise StorageError.
        """
        return self._writer.stop(timeout)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _report(self, error: StorageError) -> None:
        if self._on_error is not None:
            self._on_error(error)

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, redaction={self.redaction}, pending={self.pending_count})"


__all__ = ["Journal", "close_interrupted_sessions"]


def close_interrupted_sessions(conn: Any) -> int:
    """Close the sessions a previous run left open (the app was killed or crashed: nothing ended them) at their
    last event's time, marked ``ended_by: crash`` in their capture JSON so review says so. Returns how many."""
    with conn:
        return int(conn.execute(rows.CLOSE_INTERRUPTED).rowcount or 0)
