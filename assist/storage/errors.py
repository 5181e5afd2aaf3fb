"""Storage exceptions, worded so a support agent knows what happened and what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

FULL_SESSION_ID_CHARS = 32  # a session id is a UUID's 32 hex digits; the app shows the first 8


class StorageError(Exception):
    """Base class for everything the journal reports; ``path`` is the database file, if known."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = str(path) if path is not None else None


class DatabaseCorrupt(StorageError):
    """The file is not a readable SQLite database; Assist has left it untouched."""

    def __init__(self, path: str | Path, detail: str = "") -> None:
        reason = f" ({detail})" if detail else ""
        super().__init__(
            f"The conversation journal at {path} is damaged or is not an Assist journal{reason}. "
            "Assist has not changed or deleted it. Move the file somewhere else (or restore a backup) "
            "and start Assist again to begin a new journal; keep the old file for your IT team.",
            path,
        )
        self.detail = detail


class NotAJournal(DatabaseCorrupt):
    """The file is not an Assist journal at all (not an SQLite database, or another program's): said as such, so
    a wrong file given to ``merge`` / ``review`` / ``export`` is not taken for a damaged journal to replace."""

    def __init__(self, path: str | Path, reason: str, detail: str = "") -> None:
        super().__init__(path, detail)
        self.args = (f"{path} is not an Assist journal: {reason}. Assist has not changed or deleted it; give the "
                     "path of an Assist journal (a .sqlite3 file that Assist wrote).",)
        self.reason = reason


class DatabaseUnavailable(StorageError):
    """The journal cannot be opened or written right now (permissions, missing folder, lock)."""

    def __init__(self, path: str | Path, detail: str = "", *, locked: bool = False) -> None:
        if locked:
            message = (
                f"The conversation journal at {path} is locked by another program (perhaps a second "
                "copy of Assist, a backup or a sync tool). Assist keeps new records in memory and "
                "keeps retrying; close the other program to let it save them."
            )
        else:
            message = (
                f"Assist cannot use its conversation journal at {path}. Check that the folder exists, "
                "that you are allowed to write to it and that the disk is not full."
            )
        super().__init__(f"{message} ({detail})" if detail else message, path)
        self.detail = detail
        self.locked = locked


class JournalNotFound(DatabaseUnavailable):
    """There is no journal to read at the path given (no such file, or an empty one): say that, not permissions."""

    def __init__(self, path: str | Path, reason: str = "the file does not exist") -> None:
        super().__init__(path, reason)
        self.args = (f"There is no conversation journal at {path}: {reason}. Check the path (Assist writes "
                     "journal.sqlite3 in its data folder; 'assist data where' shows it).",)


class UnknownSession(StorageError):
    """No session of the journal has this id, or one starting with it."""

    def __init__(self, journal: str | Path, session_id: str) -> None:
        if not session_id.strip():
            message = f"A session id is needed to find a session in {journal}."
        elif len(session_id.strip()) < FULL_SESSION_ID_CHARS:
            message = f"No session starts with {session_id.strip()} in {journal}."
        else:
            message = (f"There is no session {session_id.strip()} in {journal}: it was not recorded in this journal, "
                       "or the retention policy has deleted it.")
        super().__init__(message, journal)
        self.session_id = session_id


class AmbiguousSession(StorageError):
    """Several sessions of the journal start with the id given; ``candidates`` names a few of them."""

    def __init__(self, journal: str | Path, prefix: str, candidates: list[str], matches: int) -> None:
        more = f", and {matches - len(candidates)} more" if matches > len(candidates) else ""
        super().__init__(f"The session id {prefix} is ambiguous: {matches} sessions in {journal} start with it "
                         f"({'; '.join(candidates)}{more}). Give more characters of the id.", journal)
        self.prefix = prefix
        self.candidates = candidates
        self.matches = matches


def is_locked(exc: BaseException) -> bool:
    """True for SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return True
    return "locked" in str(exc).lower() or "busy" in str(exc).lower()


_NOT_A_DATABASE_WORDS = ("not a database", "file is encrypted")
_CORRUPT_WORDS = ("malformed", "corrupt")
_UNAVAILABLE_WORDS = ("unable to open", "readonly", "read-only", "permission", "disk i/o", "disk is full")


class DatabaseTooNew(StorageError):
    """The journal was written by a newer Assist: its schema has migrations this version does not know."""

    def __init__(self, path: str | Path, migration: str) -> None:
        super().__init__(f"The conversation journal at {path} was written by a newer version of Assist (schema "
                         f"{migration}). Update Assist to open it; the file was left as it is.", path)


def classify(exc: BaseException, path: str | Path, what: str = "save a record") -> StorageError:
    """Turn a sqlite3 / OS error about ``path`` (while saving ``what``) into the matching StorageError."""
    if isinstance(exc, StorageError):
        return exc
    text = str(exc).lower()
    if is_locked(exc):
        return DatabaseUnavailable(path, str(exc), locked=True)
    if isinstance(exc, sqlite3.DatabaseError) and any(word in text for word in _NOT_A_DATABASE_WORDS):
        return NotAJournal(path, "it is not an SQLite database", str(exc))
    if isinstance(exc, sqlite3.DatabaseError) and any(word in text for word in _CORRUPT_WORDS):
        return DatabaseCorrupt(path, str(exc))
    if isinstance(exc, OSError) or any(word in text for word in _UNAVAILABLE_WORDS):
        return DatabaseUnavailable(path, str(exc))
    return StorageError(f"The conversation journal at {path} could not {what} ({exc}).", path)


__all__ = ["FULL_SESSION_ID_CHARS", "AmbiguousSession", "DatabaseCorrupt", "DatabaseTooNew", "DatabaseUnavailable",
           "JournalNotFound", "NotAJournal", "StorageError", "UnknownSession", "classify", "is_locked"]
