"""Privacy controls: the PII audit of a journal, and the retention policy (rows, files, VACUUM)."""

from __future__ import annotations

import json
import random
import sqlite3
import time

import pytest

from assist.app.cli.main import main as run_cli
from assist.domain import ChatMessage, Role, Session
from assist.storage import Journal
from assist.storage.privacy import apply_retention, scan, session_folder
from support.pii_journal import seed


def test_a_thousand_sessions_full_of_pii_leave_nothing_to_find(tmp_path, capsys):
    path = tmp_path / "journal.sqlite3"
    seed(path, 1000)
    report = scan(path)
    assert report.rows >= 3000 and report.total == 0 and not report.sessions_with_leaks
    assert run_cli(["privacy", "scan", "--db", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["leaks"] == 0


def test_a_leak_is_found_counted_by_place_and_its_value_never_shown(tmp_path, capsys):
    path = tmp_path / "journal.sqlite3"
    [session_id] = seed(path, 1)
    conn = sqlite3.connect(path)  # as an old version that forgot to redact might have written it
    conn.execute("UPDATE events SET text = 'mail me at leaked.person@example.com' WHERE rowid = "
                 "(SELECT min(rowid) FROM events)")
    conn.execute("UPDATE events SET meta = '{\"ocr\": \"IBAN GB82WEST12345698765432\"}' WHERE rowid = "
                 "(SELECT max(rowid) FROM events)")
    conn.commit()
    conn.close()
    report = scan(path)
    assert report.total == 2 and report.sessions_with_leaks == {session_id}
    assert report.leaks == {"events.text:email": 1, "events.meta:iban": 1}
    assert run_cli(["privacy", "scan", "--db", str(path)]) == 1
    out = capsys.readouterr().out
    assert "2 PII matches left in 1 sessions" in out and "events.meta:iban: 1" in out
    assert "leaked.person" not in out and "GB82" not in out


def test_sessions_recorded_without_redaction_are_counted_apart(tmp_path):
    path = tmp_path / "journal.sqlite3"
    seed(path, 2, redaction=False)
    report = scan(path)
    assert report.total == 0 and report.unredacted_sessions == 2 and report.in_unredacted >= 6


def test_a_missing_or_corrupt_journal_is_a_clear_error(tmp_path, capsys):
    assert run_cli(["privacy", "scan", "--db", str(tmp_path / "none.sqlite3")]) == 2
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"garbage" * 1000)
    assert run_cli(["privacy", "scan", "--db", str(bad)]) == 2
    assert "assist: error:" in capsys.readouterr().err


def test_retention_deletes_old_sessions_with_their_rows_and_files_then_vacuums(tmp_path, capsys):
    path = tmp_path / "journal.sqlite3"
    now = time.time()
    old = seed(path, 40, started_at=now - 40 * 86400)
    recent = seed(path, 5, started_at=now - 2 * 86400, rng=random.Random(8))
    for session_id in (old[0], recent[0]):
        folder = session_folder(path, session_id)
        folder.mkdir(parents=True)
        (folder / "shot-1.png").write_bytes(b"\x89PNG" + bytes(1000))
    size_before = path.stat().st_size
    report = apply_retention(path, days=30, now=now)
    assert report.sessions_deleted == 40 and report.folders_deleted == 1
    assert report.rows_deleted == 40 * 4  # the session row and its 3 messages
    assert not session_folder(path, old[0]).exists() and session_folder(path, recent[0]).is_dir()
    assert path.stat().st_size < size_before  # VACUUM: the deleted text is gone from the file
    conn = sqlite3.connect(path)
    assert {r[0] for r in conn.execute("SELECT id FROM sessions")} == set(recent)
    assert conn.execute("SELECT count(*) FROM events_fts").fetchone()[0] == 15  # the index forgot them too
    conn.close()
    assert run_cli(["privacy", "retention", "--days", "1", "--db", str(path)]) == 0
    assert "5 sessions older than 1 days deleted" in capsys.readouterr().out


def test_retention_bad_input(tmp_path):
    assert apply_retention(tmp_path / "none.sqlite3", days=30).sessions_deleted == 0
    with pytest.raises(ValueError, match="more than 0 days"):
        apply_retention(tmp_path / "none.sqlite3", days=0)


def test_a_new_journal_is_readable_by_its_owner_only_and_an_old_one_is_tightened(tmp_path):
    import os
    import stat

    if os.name != "posix":
        pytest.skip("POSIX permissions")
    path = tmp_path / "journal.sqlite3"
    seed(path, 1)
    journal = Journal(path)  # open: the -wal and -shm files exist now
    try:
        for name in ("journal.sqlite3", "journal.sqlite3-wal", "journal.sqlite3-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    finally:
        journal.close()
    os.chmod(path, 0o644)
    Journal(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_retention_setting_runs_at_start_up_and_a_problem_is_said(tmp_path):
    from assist.app.gui_main import apply_retention_at_start
    from assist.app.settings import load_settings

    path = tmp_path / "journal.sqlite3"
    seed(path, 3, started_at=time.time() - 100 * 86400)
    seed(path, 2, rng=random.Random(9))
    assert apply_retention_at_start(str(path), None) == ""
    assert apply_retention_at_start(str(path), 30) == ""
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 2
    conn.close()
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"garbage" * 500)
    assert "could not be applied" in apply_retention_at_start(str(bad), 30)
    settings = tmp_path / "settings.json"
    settings.write_text('{"retention_days": 90, "llm": "none"}', encoding="utf-8")
    assert load_settings(settings) == ({"retention_days": 90, "llm": "none"}, "")
    settings.write_text('{"retention_days": true}', encoding="utf-8")
    assert load_settings(settings)[0] == {} and "retention_days" in load_settings(settings)[1]


def test_retention_without_vacuum_still_wipes_the_deleted_text_from_the_file(tmp_path):
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    old = Session(agent="agent-1", started_at=time.time() - 100 * 86400)
    journal.start_session(old)
    journal.record_message(ChatMessage(session_id=old.id, role=Role.CUSTOMER, text="zanzibar-marmalade-17 complaint"))
    kept = Session(agent="agent-1")
    journal.start_session(kept)
    journal.record_message(ChatMessage(session_id=kept.id, role=Role.CUSTOMER, text="a recent question"))
    assert journal.flush(30)
    journal.close()
    assert b"zanzibar-marmalade-17" in path.read_bytes()
    report = apply_retention(path, days=30, vacuum=False)
    assert report.sessions_deleted == 1
    raw = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                               if path.with_name(path.name + "-wal").exists() else b"")
    assert b"zanzibar" not in raw and b"marmalade" not in raw  # overwritten (text and index), not just unlinked
    assert b"a recent question" in raw
