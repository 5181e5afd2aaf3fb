"""Merging journals brings each new session's screenshots and recordings along (copied, never moved), the archive's
replay and report find them, and every merged session says which journal it was recorded in."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from assist.capture.recording import CallRecorder
from assist.capture.screenshot import store_screenshot
from assist.domain import ChatMessage, EventKind, Role, Session
from assist.pipeline.review import ReviewSource
from assist.storage import Journal
from assist.storage.export import session_report_html
from assist.storage.merge import merge_journals
from assist.storage.privacy import apply_retention
from assist.storage.reader import JournalReader
from assist.storage.session_files import session_folder, stored_file
from support import copy_journal


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Bundles:
    """Two agents' journals, each in a folder of its own with its sessions' files beside it."""

    agent1: Path
    agent2: Path
    chat: str  # agent1: a chat session with a screenshot
    bare: str  # agent1: a session that never had a folder
    call: str  # agent2: a call with its recording
    shot: Path  # the screenshot as agent1's PC wrote it
    recording: Path  # the recording as agent2's PC wrote it


def make_bundles(root: Path) -> Bundles:
    """Journals written through the app's own storage, screenshot and recording code."""
    agent1, agent2 = root / "pc1" / "agent1.sqlite3", root / "pc2" / "agent2.sqlite3"
    chat, bare, call = Session(agent="dana", started_at=1000.0), Session(agent="dana", started_at=2000.0), \
        Session(agent="ali", source="call", started_at=3000.0)
    picture = np.zeros((40, 60, 3), np.uint8)
    picture[:, :30] = (200, 40, 40)
    shot = store_screenshot(picture, session_folder(agent1, chat.id))
    with Journal(agent1) as journal:
        for session in (chat, bare):
            journal.start_session(session)
            journal.record_message(ChatMessage(session.id, Role.CUSTOMER, "my parcel never arrived",
                                               created_at=session.started_at + 1))
        journal.record_message(ChatMessage(chat.id, Role.AGENT, "Order A-1234 status: DELAYED", created_at=1002.0,
                                           kind=EventKind.SCREENSHOT,
                                           meta={"path": str(shot.path), "width": shot.width, "height": shot.height,
                                                 "sha256": shot.sha256}))
        for session in (chat, bare):
            journal.end_session(session.id, session.started_at + 60)
        assert journal.flush(10)
    recorder = CallRecorder(session_folder(agent2, call.id))
    recorder.write("customer", np.sin(np.linspace(0, 400, 8000)).astype(np.float32) * 0.2)
    recorded = recorder.close()
    with Journal(agent2) as journal:
        journal.start_session(call)
        journal.record_message(ChatMessage(call.id, Role.CUSTOMER, "the line keeps dropping", created_at=3001.0,
                                           kind=EventKind.UTTERANCE, meta={"start_s": 0.0, "end_s": 0.5}))
        journal.record_capture_stats(call.id, {"customer": {"seconds": 0.5, "recording": recorded["customer"]}})
        journal.end_session(call.id, 3060.0)
        assert journal.flush(10)
    return Bundles(agent1, agent2, chat.id, bare.id, call.id, shot.path, Path(recorded["customer"]))


@pytest.fixture
def bundles(tmp_path: Path) -> Bundles:
    return make_bundles(tmp_path)


def test_merged_sessions_bring_their_screenshots_and_recordings(bundles: Bundles, tmp_path: Path) -> None:
    originals = {path: digest(path) for path in (bundles.shot, bundles.recording, bundles.agent1, bundles.agent2)}
    archive = tmp_path / "office" / "archive.sqlite3"
    report = merge_journals(archive, [bundles.agent1, bundles.agent2])
    shot_copy = session_folder(archive, bundles.chat) / bundles.shot.name
    call_copy = session_folder(archive, bundles.call) / bundles.recording.name
    assert shot_copy.is_file() and call_copy.is_file()
    assert digest(shot_copy) == originals[bundles.shot] and digest(call_copy) == originals[bundles.recording]
    assert report.problems == [] and report.sessions_added == 3 and report.files_copied == 2
    assert "3 sessions added (7 rows, 2 files)" in report.summary()
    assert {path: digest(path) for path in originals} == originals  # copied, never moved; the bundles untouched
    assert not session_folder(archive, bundles.bare).exists()  # no folder there, none here: fine
    with ReviewSource([archive]) as source:  # the archive's replay finds its own copies
        assert source.replay(bundles.call).recording == [call_copy]
        shot_turn = next(t for t in source.replay(bundles.chat).turns if t.kind == "screenshot")
    assert shot_turn.meta["path"] == str(bundles.shot)  # the row as recorded; found beside the archive by name
    assert stored_file(archive, bundles.chat, shot_turn.meta["path"]) == shot_copy
    with JournalReader(archive) as reader:
        page = session_report_html(reader, bundles.chat)
    assert f"at {shot_copy.resolve()}" in page
    # the archive's retention deletes the archive's copies, never the agent's
    apply_retention(archive, days=1, now=10 * 86400.0)
    assert not shot_copy.exists() and not call_copy.exists()
    assert digest(bundles.shot) == originals[bundles.shot] and digest(bundles.recording) == originals[bundles.recording]


def test_a_bundle_read_on_another_pc_finds_its_files_beside_it(bundles: Bundles, tmp_path: Path) -> None:
    """The rows keep the path of the agent's PC; the folder copied beside the bundle is where they are now."""
    moved = tmp_path / "usb" / "agent1.sqlite3"
    moved.parent.mkdir()
    copy_journal(bundles.agent1, moved)
    shutil.move(bundles.agent1.parent / "sessions", moved.parent / "sessions")
    assert not bundles.shot.exists()  # only the copy beside the bundle is left
    with JournalReader(moved) as reader:
        page = session_report_html(reader, bundles.chat)
    assert f"at {(session_folder(moved, bundles.chat) / bundles.shot.name).resolve()}" in page
    archive = tmp_path / "archive.sqlite3"
    assert merge_journals(archive, [moved]).files_copied == 1
    assert (session_folder(archive, bundles.chat) / bundles.shot.name).is_file()


def test_each_merged_session_names_the_journal_it_was_recorded_in(bundles: Bundles, tmp_path: Path) -> None:
    archive = tmp_path / "archive.sqlite3"
    merge_journals(archive, [bundles.agent1, bundles.agent2])
    with JournalReader(archive) as reader:
        origins = {s.id: s.origin for s in reader.session_summaries()}
        capture = {row["id"]: row["capture"] for row in reader.sessions()}
    assert origins == {bundles.chat: "agent1.sqlite3", bundles.bare: "agent1.sqlite3", bundles.call: "agent2.sqlite3"}
    assert capture[bundles.call]["customer"]["seconds"] == 0.5  # the call's own statistics kept beside it
    with JournalReader(bundles.agent1) as reader:
        assert {s.origin for s in reader.session_summaries()} == {""}  # a journal's own sessions
    bigger = tmp_path / "all" / "everything.sqlite3"  # an archive merged on: where each was recorded stays
    report = merge_journals(bigger, [archive])
    assert report.problems == [] and report.files_copied == 2
    with JournalReader(bigger) as reader:
        assert {s.id: s.origin for s in reader.session_summaries()} == origins
    again = merge_journals(archive, [bundles.agent1, bundles.agent2])
    assert again.sessions_added == 0 and again.files_copied == 0 and again.problems == []


def test_a_file_that_cannot_be_copied_is_said_and_the_rows_still_merge(bundles: Bundles, tmp_path: Path) -> None:
    archive = tmp_path / "archive.sqlite3"
    blocked = session_folder(archive, bundles.chat)
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the session's folder should go")
    report = merge_journals(archive, [bundles.agent1, bundles.agent2])
    assert report.sessions_added == 3 and report.files_copied == 1 and report.files_not_copied == 1
    [problem] = report.problems
    assert problem.startswith(f"Session {bundles.chat[:8]}: {bundles.shot.name} was not copied to {blocked}")
    assert problem.endswith(f"it is still at {bundles.shot}.")
    assert report.summary().endswith("; 1 files not copied") and "journals not merged" not in report.summary()
    with JournalReader(archive) as reader:
        assert reader.count_sessions() == 3 and len(reader.events(bundles.chat)) == 2
    assert bundles.shot.is_file()


def test_a_session_id_that_is_not_a_folder_name_is_never_followed(bundles: Bundles, tmp_path: Path) -> None:
    """A journal from elsewhere could name a session '..': its files are not looked for outside sessions/."""
    outside = bundles.agent1.parent / "sessions" / ".." / ".." / "secret"
    outside.mkdir(parents=True)
    (outside / "key.txt").write_text("not a session's file")
    conn = sqlite3.connect(bundles.agent1)
    conn.execute("INSERT INTO sessions (id, started_at, agent, source, redaction_enabled) "
                 "VALUES ('../../secret', 5.0, 'x', 'chat', 1)")
    conn.commit()
    conn.close()
    archive = tmp_path / "office" / "archive" / "archive.sqlite3"
    report = merge_journals(archive, [bundles.agent1])
    assert report.sessions_added == 3 and report.files_copied == 1
    assert report.problems == ["The files of session '../../secret' were not looked for: its id is not a plain "
                               "folder name."]
    assert not (tmp_path / "office" / "secret").exists()  # sessions/../../secret beside the archive
    apply_retention(bundles.agent1, days=1, now=10 * 86400.0)  # nor deleted there
    assert (outside / "key.txt").is_file()
