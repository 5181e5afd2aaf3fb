"""The app with a real journal: redaction at rest, and a corrupt / locked / unwritable database."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys

import pytest

from assist.app.gui_main import open_journal
from assist.pipeline.controller import SessionController
from assist.storage import Journal, JournalReader
from support import REPO

PII = "I'm jane.doe@example.com, card 4111 1111 1111 1111, phone +1 555 201 7733, where is my refund?"


def test_pii_is_redacted_at_rest_but_the_model_saw_the_raw_text(engines, tmp_path):
    db = tmp_path / "j.sqlite3"
    journal = Journal(db)
    controller = SessionController(engines, journal=journal)
    controller.start_session()
    turn = controller.submit("customer", PII)
    assert "jane.doe@example.com" in turn.message.text  # in memory, raw
    controller.feedback(turn.insight.suggestions[0].id, "inserted")
    controller.end_session()
    assert journal.close()
    reader = JournalReader(db)
    (session,) = reader.sessions()
    assert session["redaction_enabled"] is True
    (event,) = reader.events(session["id"])
    assert "[EMAIL]" in event["text"] and "[CARD]" in event["text"] and "[PHONE]" in event["text"]
    (insight,) = reader.insights(session["id"])
    assert len(insight["suggestions"]) == 3
    assert [f["action"] for f in reader.feedback(session["id"])] == ["inserted"]
    reader.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"jane.doe@example.com" not in raw and b"4111 1111 1111 1111" not in raw


def test_redaction_off_is_explicit_and_recorded(engines, tmp_path):
    db = tmp_path / "raw.sqlite3"
    journal = Journal(db, redaction=False)
    controller = SessionController(engines, journal=journal, redaction=False)
    controller.start_session()
    controller.submit("customer", PII)
    assert journal.close()
    reader = JournalReader(db)
    (session,) = reader.sessions()
    assert session["redaction_enabled"] is False
    assert "jane.doe@example.com" in reader.events(session["id"])[0]["text"]
    reader.close()


def test_corrupt_database_is_reported_and_left_alone(tmp_path):
    db = tmp_path / "corrupt.sqlite3"
    db.write_bytes(os.urandom(8192))
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    journal, problem = open_journal(str(db), True, None)
    assert journal is None
    assert "NOT being recorded" in problem and str(db) in problem
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_unwritable_database_path_is_reported(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    journal, problem = open_journal(str(blocker / "journal.sqlite3"), True, None)
    assert journal is None and "NOT being recorded" in problem


def test_locked_database_is_reported_and_nothing_is_lost(engines, tmp_path):
    db = tmp_path / "locked.sqlite3"
    errors = []
    journal = Journal(db, on_error=errors.append, busy_timeout_ms=100)
    controller = SessionController(engines, journal=journal)
    controller.start_session()
    controller.submit("customer", "first message")
    assert journal.flush(5)
    other = sqlite3.connect(db)
    other.execute("BEGIN EXCLUSIVE")
    controller.submit("customer", "written while the database is locked")
    deadline = __import__("time").time() + 10
    while not errors and __import__("time").time() < deadline:
        __import__("time").sleep(0.05)
    assert errors and "lock" in str(errors[0]).lower()
    other.rollback()
    other.close()
    assert journal.flush(10)
    assert journal.close()
    reader = JournalReader(db)
    (session,) = reader.sessions()
    assert [e["text"] for e in reader.events(session["id"])] == ["first message", "written while the database is locked"]
    assert len(reader.insights(session["id"])) == 2
    reader.close()


@pytest.mark.slow
def test_demo_keeps_running_with_a_corrupt_database(tmp_path):
    db = tmp_path / "corrupt.sqlite3"
    db.write_bytes(b"this is not sqlite" * 500)
    before = db.read_bytes()
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "-m", "assist", "demo", "--offscreen", "--screenshot", str(shot), "--db", str(db)],
        capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert "not being recorded" in (result.stdout + result.stderr).lower()
    assert "journal: NOT recording" in result.stdout
    assert db.read_bytes() == before
    assert shot.exists()
