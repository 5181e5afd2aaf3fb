"""The IT admin's and the supervisor's commands take the 8 characters of a session id the app shows, and say in
words what is wrong with what they were given: an unknown or ambiguous id, a file that is not a journal, a journal
path with no file (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assist.app.cli.main import main
from support import OTHER_ID, TWIN_IDS, run_assist, twin_sessions_journal

TWINS, OTHER = TWIN_IDS, OTHER_ID  # share their first 7 characters


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """Three sessions with one customer turn each; two of them share the start of their ids."""
    return twin_sessions_journal(tmp_path / "journal.sqlite3")


def _error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    """The one error line of a refused command (exit 2, no traceback)."""
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("assist: error: ") and "Traceback" not in err, (code, err)
    return err


def test_every_command_taking_a_session_accepts_the_eight_characters_shown(journal, tmp_path, capsys):
    db = ["--db", str(journal)]
    report = tmp_path / "report.html"
    assert main(["export", "report", "--session", "02aaabda", "--out", str(report), *db]) == 0
    assert f"Session {TWINS[0]}" in report.read_text(encoding="utf-8")
    out = tmp_path / "sessions.json"
    assert main(["export", "sessions", "--session", "7f00c0de", "--session", "02AAABDB", "--format", "json",
                 "--out", str(out), *db]) == 0
    assert [s["session"]["id"] for s in json.loads(out.read_text(encoding="utf-8"))["sessions"]] == [OTHER, TWINS[1]]
    capsys.readouterr()
    assert main(["annotate", "--session", "7f00c0de", "--comment", "follow up", "--author", "maria", "--json",
                 *db]) == 0
    assert json.loads(capsys.readouterr().out)[0]["session_id"] == OTHER
    assert main(["annotations", "list", "--session", "7f00c0de", "--json", *db]) == 0
    assert [a["value"] for a in json.loads(capsys.readouterr().out)] == ["follow up"]
    assert main(["eval", "annotated", "--session", "7f00c0de", "--json", *db]) == 0
    assert json.loads(capsys.readouterr().out)["annotated_turns"] == 0


@pytest.mark.parametrize("command", [
    ["export", "report", "--out", "{tmp}/r.html"],
    ["export", "sessions", "--out", "{tmp}/s.csv"],
    ["annotate", "--comment", "x", "--author", "maria"],
    ["annotations", "list"],
    ["eval", "annotated"],
])  # fmt: skip
def test_an_unknown_or_ambiguous_start_is_said_by_every_command(journal, tmp_path, capsys, command):
    argv = [part.format(tmp=tmp_path) for part in command] + ["--db", str(journal)]
    err = _error(capsys, main([*argv, "--session", "02aaabdc"]))
    assert f"No session starts with 02aaabdc in {journal}" in err and "retention" not in err
    err = _error(capsys, main([*argv, "--session", "02aaabd"]))
    assert "02aaabd is ambiguous" in err and TWINS[0] in err and TWINS[1] in err and OTHER not in err
    err = _error(capsys, main([*argv, "--session", "0" * 32]))
    assert f"There is no session {'0' * 32} in {journal}" in err
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "s.csv").exists()  # nothing written
    assert main(["annotations", "list", "--json", "--db", str(journal)]) == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing saved


def test_merge_says_a_picture_is_not_a_journal(tmp_path, capsys):
    picture = tmp_path / "some.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    assert main(["merge", "--into", str(tmp_path / "a.sqlite3"), str(picture)]) == 1
    err = capsys.readouterr().err
    assert f"{picture} is not an Assist journal: it is not an SQLite database" in err
    assert "start Assist again" not in err
    assert _error(capsys, main(["merge", "--into", str(picture), str(tmp_path / "a.sqlite3")])).startswith(
        f"assist: error: {picture} is not an Assist journal")


@pytest.mark.slow
def test_review_of_a_missing_journal_says_the_file_does_not_exist(tmp_path):
    missing = tmp_path / "missing.sqlite3"
    done = run_assist("review", "--db", str(missing), "--offscreen", timeout=120)
    said = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in said, said
    assert f"There is no conversation journal at {missing}: the file does not exist" in said
    assert "allowed to write" not in said and "disk is not full" not in said
    assert not missing.exists()
