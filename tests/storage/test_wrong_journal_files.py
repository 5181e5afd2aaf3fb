"""A file given as a journal that is not one is said for what it is: a path with no file, an empty file, a folder, a
picture, another program's database; a damaged journal is still said to be damaged. Nothing is changed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assist.domain import ChatMessage, Role, Session
from assist.storage import DatabaseCorrupt, DatabaseUnavailable, Journal, JournalReader
from assist.storage.annotations import AnnotationStore
from assist.storage.errors import JournalNotFound, NotAJournal
from assist.storage.merge import merge_journals

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
WRONG_ADVICE = ("allowed to write", "disk is not full", "start Assist again")


def _said(exc: BaseException) -> str:
    text = str(exc)
    assert not [words for words in WRONG_ADVICE if words in text], text
    return text


@pytest.mark.parametrize("make, reason", [
    (lambda p: None, "the file does not exist"),
    (lambda p: p.write_bytes(b""), "the file is empty"),
    (lambda p: p.mkdir(), "this is a folder, not a file"),
])  # fmt: skip
def test_no_journal_at_the_path_says_so_not_permissions(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "missing.sqlite3"
    make(path)
    for read in (JournalReader, lambda p: AnnotationStore(p).annotations()):
        with pytest.raises(JournalNotFound) as caught:
            read(path)
        assert isinstance(caught.value, DatabaseUnavailable)  # callers catching the broader error still do
        assert _said(caught.value).startswith(f"There is no conversation journal at {path}: {reason}")


def test_a_picture_or_another_programs_database_is_not_an_assist_journal(tmp_path: Path) -> None:
    picture = tmp_path / "some.png"
    picture.write_bytes(PNG)
    contacts = tmp_path / "contacts.sqlite3"
    conn = sqlite3.connect(contacts)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    for path, reason in ((picture, "it is not an SQLite database"), (contacts, "an SQLite database of another")):
        before = path.read_bytes()
        for open_it in (JournalReader, Journal):
            with pytest.raises(NotAJournal) as caught:
                open_it(path)
            assert isinstance(caught.value, DatabaseCorrupt)
            assert _said(caught.value).startswith(f"{path} is not an Assist journal: ") and reason in str(caught.value)
        assert path.read_bytes() == before


def test_merge_names_a_file_that_is_not_a_journal(tmp_path: Path) -> None:
    picture = tmp_path / "some.png"
    picture.write_bytes(PNG)
    report = merge_journals(tmp_path / "a.sqlite3", [picture, tmp_path / "gone.sqlite3"])
    assert report.sessions_added == 0 and len(report.problems) == 2
    assert report.problems[0].startswith(f"{picture} is not an Assist journal: it is not an SQLite database")
    assert report.problems[1].startswith(f"There is no conversation journal at {tmp_path / 'gone.sqlite3'}: the "
                                         "file does not exist")
    for problem in report.problems:
        _said(problem)
    assert picture.read_bytes() == PNG


def test_a_damaged_journal_is_still_said_to_be_damaged(tmp_path: Path) -> None:
    path = tmp_path / "cut.sqlite3"
    journal = Journal(path)
    for n in range(40):
        session = Session(agent=f"agent {n}")
        journal.start_session(session)
        for turn in range(10):
            journal.record_message(ChatMessage(session_id=session.id, role=Role.CUSTOMER, text=f"turn {turn} " * 40))
    assert journal.flush(30)
    journal.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # a copy that stopped a third of the way
    with pytest.raises(DatabaseCorrupt) as caught:
        JournalReader(path).sessions()
    assert not isinstance(caught.value, NotAJournal) and f"{path} is damaged" in str(caught.value)
