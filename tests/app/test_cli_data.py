"""``assist data where | remove``: this user's folders, deleted only when asked, and nothing else touched."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from assist.app.cli.main import add_log_file, main
from assist.storage.userdata import removal_targets


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    for var, sub in (("XDG_DATA_HOME", "share"), ("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"),
                     ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    return tmp_path


def _make_user_data(home: Path) -> list[Path]:
    """What a user's Assist leaves: a journal, settings, a macro bank, a log (written by the app's own code)."""
    import logging

    from assist.app.settings import settings_path
    from assist.replies.macros.bank import default_bank_path
    from assist.storage import Journal, default_journal_path

    Journal(default_journal_path()).close()
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text("{}", encoding="utf-8")
    default_bank_path().write_text("[]", encoding="utf-8")
    log = add_log_file()
    logging.getLogger("assist").warning("a line in the log")
    for handler in logging.getLogger().handlers[:]:
        if getattr(handler, "baseFilename", "") == str(log):
            handler.close()
            logging.getLogger().removeHandler(handler)
    return [default_journal_path(), settings_path(), default_bank_path(), log]


def test_where_lists_the_folders(home, capsys) -> None:
    _make_user_data(home)
    assert main(["data", "where", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows["data"]["path"] == str(home / "share" / "Assist") and rows["data"]["exists"]
    assert rows["data"]["bytes"] > 0 and rows["settings"]["exists"] and not rows["cache"]["exists"]


def test_remove_deletes_only_assists_folders(home, capsys) -> None:
    files = _make_user_data(home)
    neighbours = [home / "share" / "other-app" / "keep.txt", home / "config" / "pulse" / "cookie"]
    for path in neighbours:
        path.parent.mkdir(parents=True)
        path.write_text("not ours")
    assert all(p.exists() for p in files)
    assert main(["data", "remove", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Removed" in out and str(home / "share" / "Assist") in out
    assert not any(p.exists() for p in files)
    assert not (home / "share" / "Assist").exists() and not (home / "state" / "Assist").exists()
    assert all(p.read_text() == "not ours" for p in neighbours)
    assert main(["data", "remove", "--yes"]) == 0
    assert "Nothing to remove" in capsys.readouterr().out


def test_remove_asks_first(home, monkeypatch, capsys) -> None:
    files = _make_user_data(home)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal, no --yes: refused
    assert main(["data", "remove"]) == 2
    assert "--yes" in capsys.readouterr().err and all(p.exists() for p in files)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert main(["data", "remove"]) == 1
    assert all(p.exists() for p in files)
    monkeypatch.setattr("builtins.input", lambda prompt: "remove")
    assert main(["data", "remove"]) == 0
    assert not any(p.exists() for p in files)


def test_never_deletes_a_folder_that_is_not_assists(tmp_path) -> None:
    (tmp_path / "Assist" / "log").mkdir(parents=True)
    (tmp_path / "home").mkdir()
    nested = {"data": tmp_path / "Assist", "logs": tmp_path / "Assist" / "log", "cache": tmp_path / "gone"}
    assert removal_targets(nested) == [(tmp_path / "Assist").resolve()]  # the log folder goes with its parent
    with pytest.raises(ValueError, match="not an Assist folder"):
        removal_targets({"data": tmp_path / "home"})


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_remove_waits_while_a_program_has_the_journal_open(home, capsys) -> None:
    import subprocess

    from assist.storage import default_journal_path

    files = _make_user_data(home)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1], 'rb'); "
                               "print('open', flush=True); time.sleep(60)", str(default_journal_path())],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        assert main(["data", "remove", "--yes"]) == 2
        err = capsys.readouterr().err
        assert f"process {holder.pid}" in err and "Close Assist first" in err
        assert all(p.exists() for p in files)
    finally:
        holder.kill()
        holder.wait()
    assert main(["data", "remove", "--yes"]) == 0
    assert not any(p.exists() for p in files)

