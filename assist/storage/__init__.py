"""Storage: redaction, the SQLite conversation journal (one writer thread) and its reader.

Qt-free; imports only the stdlib, sqlite_utils, platformdirs and ``assist.domain``.
"""

from __future__ import annotations

from assist.storage.connection import default_journal_path
from assist.storage.errors import DatabaseCorrupt, DatabaseUnavailable, StorageError
from assist.storage.journal import Journal
from assist.storage.reader import JournalReader
from assist.storage.redaction import Redacted, redact

__all__ = [
    "DatabaseCorrupt",
    "DatabaseUnavailable",
    "Journal",
    "JournalReader",
    "Redacted",
    "StorageError",
    "default_journal_path",
    "redact",
]
