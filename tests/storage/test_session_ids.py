"""A session is found by the 8 characters the app shows (any unique start of its id), in every reader of a journal;
a start that matches none or several is said in words that name the journal and, when ambiguous, a few candidates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assist.storage import JournalReader
from assist.storage.annotations import AnnotationStore
from assist.storage.errors import AmbiguousSession, UnknownSession
from assist.storage.export import export_sessions, session_report_html
from support import OTHER_ID, TWIN_IDS, twin_sessions_journal

TWINS, OTHER = TWIN_IDS, OTHER_ID  # share their first 7 characters


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """Three sessions with one customer turn each; two of them share the start of their ids."""
    return twin_sessions_journal(tmp_path / "journal.sqlite3")


def test_the_eight_characters_the_app_shows_find_the_session(journal: Path) -> None:
    with JournalReader(journal) as reader:
        assert reader.find_session(TWINS[0][:8]) == TWINS[0]
        assert reader.find_session(TWINS[1]) == TWINS[1]  # a whole id
        assert reader.find_session(" 7F00 ") == OTHER  # as typed: spaces around, capitals
    assert AnnotationStore(journal).find_session("02aaabdb") == TWINS[1]


def test_a_start_matching_several_sessions_is_ambiguous_and_names_them(journal: Path) -> None:
    with JournalReader(journal) as reader, pytest.raises(AmbiguousSession) as caught:
        reader.find_session("02aaabd")
    text = str(caught.value)
    assert "02aaabd is ambiguous" in text and str(journal) in text
    assert TWINS[0] in text and TWINS[1] in text and "dana" in text and OTHER not in text
    assert sorted(caught.value.candidates)[0].startswith(TWINS[0]) and caught.value.matches == 2


def test_an_unknown_id_says_it_is_not_in_that_journal(journal: Path) -> None:
    with JournalReader(journal) as reader:
        with pytest.raises(UnknownSession) as short:
            reader.find_session("02aaabdc")
        assert str(short.value) == f"No session starts with 02aaabdc in {journal}."
        with pytest.raises(UnknownSession) as whole:
            reader.find_session("f" * 32)
        assert f"There is no session {'f' * 32} in {journal}" in str(whole.value)
        with pytest.raises(UnknownSession, match="A session id is needed"):
            reader.find_session("  ")
        with pytest.raises(UnknownSession, match="No session starts with 1_ in"):
            reader.find_session("1_")  # not taken as a LIKE pattern: '_' is a character here


def test_exports_take_the_start_of_an_id(journal: Path, tmp_path: Path) -> None:
    with JournalReader(journal) as reader:
        assert f"Session {TWINS[1]}" in session_report_html(reader, "02aaabdb")
        out = export_sessions(reader, ["7f00c0de", OTHER, "02aaabda"], tmp_path / "sessions.json", "json")
        exported = json.loads(out.read_text(encoding="utf-8"))["sessions"]
        assert [s["session"]["id"] for s in exported] == [OTHER, TWINS[0]]  # each once, in the order asked
        with pytest.raises(AmbiguousSession):
            export_sessions(reader, ["02aaabd"], tmp_path / "none.json", "json")
    assert not (tmp_path / "none.json").exists()
