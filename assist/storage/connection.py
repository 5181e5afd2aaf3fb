"""Opening journal connections: locate, check without modifying, configure, migrate."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from assist.paths import is_user_folder, private_folder, user_data_dir
from assist.storage.errors import (
    DatabaseCorrupt,
    DatabaseTooNew,
    DatabaseUnavailable,
    JournalNotFound,
    NotAJournal,
    StorageError,
    classify,
)
from assist.storage.schema import MIGRATION_SET, apply_migrations, migrations

QUICK_CHECK_MAX_BYTES = 256 * 1024 * 1024  # above this, only the header and schema are checked at start
DEFAULT_BUSY_TIMEOUT_MS = 5000


def default_journal_path() -> Path:
    """``<user data dir>/journal.sqlite3`` as platformdirs defines it for this OS."""
    return user_data_dir() / "journal.sqlite3"


def check_header(conn: sqlite3.Connection, path: Path) -> None:
    """Raise NotAJournal (a DatabaseCorrupt) when the file is not an SQLite database, asking SQLite itself.

    Never read the file with a handle of our own while the process has it open in SQLite: closing any handle
    on a file drops every POSIX lock the process holds on it, so another program's last connection would
    take the journal for unused and delete its write-ahead log under us (the SQLite FAQ's "how to corrupt").
    """
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise classify(exc, path) from exc


def owner_only(path: Path) -> None:
    """Create the journal readable by its owner only (SQLite gives its -wal and -shm files the same mode), and
    tighten an existing one. Done before SQLite opens it: no handle of ours is ever closed beside SQLite's."""
    try:
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        elif os.name == "posix" and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except FileExistsError:
        pass  # another process created it meanwhile
    except OSError as exc:
        raise DatabaseUnavailable(path, f"cannot create the file: {exc}") from exc


def check_is_journal(conn: sqlite3.Connection, path: Path) -> bool:
    """False for an empty database; NotAJournal (a DatabaseCorrupt) when the tables belong to another program."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return False
    foreign = NotAJournal(path, "it is an SQLite database of another program")
    if migrations.migrations_table not in tables:
        raise foreign
    sets = {row[0] for row in conn.execute(f"SELECT DISTINCT migration_set FROM {migrations.migrations_table}")}
    if MIGRATION_SET not in sets:
        raise foreign
    known = {m.name for m in migrations._migrations}
    newer = sorted({row[0] for row in conn.execute(f"SELECT name FROM {migrations.migrations_table} WHERE "
                                                   "migration_set = ?", (MIGRATION_SET,))} - known)
    if newer:
        raise DatabaseTooNew(path, newer[-1])
    return True


def verify(conn: sqlite3.Connection, path: Path) -> None:
    """Read the schema and run ``PRAGMA quick_check``; both are read-only."""
    check_is_journal(conn, path)
    if path.exists() and path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise DatabaseCorrupt(path, "; ".join(str(problem) for problem in problems))


def open_writer(path: Path, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> tuple[sqlite3.Connection, list[str]]:
    """Open the write connection (WAL, foreign keys, busy timeout) and apply migrations.

    Returns the connection and the migration names applied now. The file is only written
    after it has been checked, so a damaged file is left exactly as it was.
    """
    if path.is_dir():
        raise DatabaseUnavailable(path, "this is a folder, not a file")
    try:  # owner-only like the journal; a folder the user chose is created so but never changed
        private_folder(path.parent, tighten=is_user_folder(path.parent))
    except OSError as exc:
        raise DatabaseUnavailable(path, f"cannot create the folder: {exc}") from exc
    owner_only(path)
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise classify(exc, path) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        check_header(conn, path)
        verify(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        applied = apply_migrations(Database(conn, execute_plugins=False))
    except (sqlite3.Error, OSError, StorageError) as exc:
        conn.close()
        raise classify(exc, path) from exc
    return conn, applied


def open_reader(path: Path, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """Open a read-only connection (``mode=ro``) to an existing journal, rows as sqlite3.Row."""
    if not path.is_file():
        raise JournalNotFound(path, "this is a folder, not a file" if path.is_dir() else "the file does not exist")
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout_ms / 1000, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise classify(exc, path) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        check_header(conn, path)
        if not check_is_journal(conn, path):
            raise JournalNotFound(path, "the file is empty (nothing has been recorded in it)")
    except (sqlite3.Error, StorageError) as exc:
        conn.close()
        raise classify(exc, path) from exc
    conn.row_factory = sqlite3.Row
    return conn


__all__ = [
    "DEFAULT_BUSY_TIMEOUT_MS",
    "check_header",
    "check_is_journal",
    "default_journal_path",
    "open_reader",
    "open_writer",
    "verify",
]
