"""``assist macros ...``: the reply bank from the command line (bad input included)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from assist.app.cli.main import main
from assist.replies.macros.bank import MacroBank, make_macro, starter_csv_path


@pytest.fixture
def bank_path(tmp_path: Path) -> Path:
    return tmp_path / "bank" / "macros.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run through the real ``assist`` entry point; returns code, stdout, stderr."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_add_list_show_remove(capsys, bank_path: Path) -> None:
    code, out, err = run(capsys, "macros", "add", "--bank", bank_path, "--title", "Refund started",
                         "--text", "Your refund of {amount} for {order_id} is on its way, {customer_name}.",
                         "--intents", "get_refund, track_refund", "--tags", "refunds", "--team", "Tier 1")
    assert code == 0 and out.startswith("added m-") and err == ""
    macro_id = out.split()[1].rstrip(":")
    code, out, err = run(capsys, "macros", "add", "--bank", bank_path, "--title", "Hours",
                         "--text", "We are open {store_hours}.")
    assert code == 0 and "{store_hours} is not a placeholder Assist fills" in err

    code, out, _ = run(capsys, "macros", "list", "--bank", bank_path)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0] == (f"{macro_id}  Refund started  team: Tier 1  intents: get_refund, track_refund  "
                        f"placeholders: {{amount}}, {{order_id}}, {{customer_name}}")
    assert lines[1].endswith("intents: -  placeholders: {store_hours} (unknown)")
    assert lines[2] == f"2 macros in {bank_path}; placeholders Assist cannot fill in 1 macro (marked unknown)"

    code, out, _ = run(capsys, "macros", "list", "--bank", bank_path, "--json", "--team", "Tier 2")
    listed = json.loads(out)["macros"]
    assert code == 0 and [m["title"] for m in listed] == ["Hours"]  # everyone's macros, not Tier 1's
    assert listed[0]["unknown_placeholders"] == ["store_hours"] and listed[0]["placeholders"] == ["store_hours"]

    code, out, _ = run(capsys, "macros", "show", macro_id, "--bank", bank_path)
    assert code == 0 and out.startswith("# Refund started\n") and "intents: get_refund, track_refund" in out
    assert out.rstrip().endswith("is on its way, {customer_name}.") and "unknown placeholders" not in out
    code, out, _ = run(capsys, "macros", "show", macro_id, "--bank", bank_path, "--json")
    assert json.loads(out)["tags"] == ["refunds"]

    code, out, _ = run(capsys, "macros", "remove", macro_id, "--bank", bank_path)
    assert code == 0 and out == f"removed {macro_id}: Refund started\n"
    assert [m.title for m in MacroBank(bank_path)] == ["Hours"]


def test_errors_are_said_in_words_with_exit_2(capsys, bank_path: Path, tmp_path: Path) -> None:
    MacroBank(bank_path).add(make_macro("Thanks", "Thanks for waiting!"))
    saved = bank_path.read_bytes()
    cases = {
        ("show", "m-nope"): "no macro with id m-nope",
        ("remove", "m-nope"): "no macro with id m-nope",
        ("add", "--title", "Empty", "--text", "   "): "the text is empty",
        ("add", "--title", "Copy", "--text", "thanks for  WAITING!"): "repeats the macro 'Thanks'",
        ("add", "--title", "Bad", "--text", "Hi", "--intents", "refund me!"): "intent labels must be words",
        ("export", tmp_path / "no" / "such" / "dir" / "x.csv"): "cannot write",
    }
    for argv, message in cases.items():
        code, out, err = run(capsys, "macros", *argv, "--bank", bank_path)
        assert code == 2 and out == "" and err.startswith("assist: error: ") and message in err, argv
    assert bank_path.read_bytes() == saved

    corrupt = write(tmp_path / "corrupt.json", '{"macros": [')
    code, _, err = run(capsys, "macros", "list", "--bank", corrupt)
    assert code == 2 and "unreadable or corrupt" in err and corrupt.read_text() == '{"macros": ['


def test_import_export_round_trip(capsys, bank_path: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, "macros", "import", starter_csv_path(), "--bank", bank_path, "--created-by", "Ana")
    starter = MacroBank(bank_path)
    assert code == 0 and err == "" and len(starter) >= 25
    assert out.startswith(f"imported {len(starter)} macros from ") and "0 repeats and 0 malformed rows skipped" in out
    assert {m.created_by for m in starter} == {"Ana"}

    exported = tmp_path / "out.csv"
    code, out, _ = run(capsys, "macros", "export", exported, "--bank", bank_path)
    assert code == 0 and out == f"exported {len(starter)} macros to {exported}\n"
    rows = list(csv.DictReader(exported.open(encoding="utf-8", newline="")))
    assert [r["id"] for r in rows] == [m.id for m in starter]

    again = tmp_path / "again.json"
    code, out, _ = run(capsys, "macros", "import", exported, "--bank", again, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["added"] == len(starter) and report["macros"] == len(starter)
    assert MacroBank(again).macros == starter.macros

    code, out, err = run(capsys, "macros", "import", exported, "--bank", again)  # everything is there already
    assert code == 0 and out.startswith("imported 0 macros") and f"{len(starter)} repeats" in out
    assert err.count("  - line ") == len(starter)


def test_team_export_keeps_everyones_and_that_teams_macros(capsys, bank_path: Path, tmp_path: Path) -> None:
    bank = MacroBank(bank_path)
    for title, team in (("All", ""), ("One", "Tier 1"), ("Two", "Tier 2")):
        bank.add(make_macro(title, f"{title} text", team=team))
    out_csv = tmp_path / "tier1.csv"
    code, out, _ = run(capsys, "macros", "export", out_csv, "--team", "Tier 1", "--bank", bank_path)
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8", newline="")))
    assert code == 0 and [r["title"] for r in rows] == ["All", "One"] and out.startswith("exported 2 macros")


def test_malformed_csv_leaves_the_bank_unchanged(capsys, bank_path: Path, tmp_path: Path) -> None:
    MacroBank(bank_path).add(make_macro("Keep me", "Kept."))
    saved = bank_path.read_bytes()
    bad = {
        "columns.csv": ("question,answer\nWhere?,Here\n", "at least title and text"),
        "binary.csv": ("title,text\nA,\x00\x01\x02\n", "NUL bytes"),
        "empty.csv": ("", "found: nothing"),
    }
    for name, (text, problem) in bad.items():
        code, out, err = run(capsys, "macros", "import", write(tmp_path / name, text), "--bank", bank_path)
        assert code == 2 and out == "", name
        assert err.startswith(f"assist: error: nothing imported from {tmp_path / name}; the reply bank is unchanged")
        assert problem in err, name
    code, _, err = run(capsys, "macros", "import", tmp_path / "missing.csv", "--bank", bank_path)
    assert code == 2 and "cannot read" in err

    strict = write(tmp_path / "one_bad.csv", "title,text\nGood,Fine text\nNo text,\n")
    code, out, err = run(capsys, "macros", "import", strict, "--strict", "--bank", bank_path, "--json")
    assert code == 2 and json.loads(out)["ok"] is False and "line 3: the text is empty" in err
    assert "1 malformed row(s); nothing imported" in err
    assert bank_path.read_bytes() == saved and [m.title for m in MacroBank(bank_path)] == ["Keep me"]

    code, out, err = run(capsys, "macros", "import", strict, "--bank", bank_path)  # not strict: the good row
    assert code == 0 and out.startswith("imported 1 macro from") and "0 repeats and 1 malformed row skipped" in out
    assert "  - line 3: the text is empty" in err
    assert [m.title for m in MacroBank(bank_path)] == ["Keep me", "Good"]


def test_non_utf8_csv_is_read_and_said(capsys, bank_path: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "excel.csv", "title;text\nCafé;We’re sorry about order {order_id} – truly.\n",
                 encoding="cp1252")
    code, out, err = run(capsys, "macros", "import", path, "--bank", bank_path)
    assert code == 0 and out.startswith("imported 1 macro from") and "excel.csv is not UTF-8; read it as cp1252" in err
    macro = MacroBank(bank_path).macros[0]
    assert (macro.title, macro.text) == ("Café", "We’re sorry about order {order_id} – truly.")
    code, out, _ = run(capsys, "macros", "import", write(tmp_path / "latin.csv", "title,text\nOlá,Até já\n",
                                                          encoding="latin-1"), "--bank", bank_path, "--json")
    assert code == 0 and json.loads(out)["encoding"] in ("cp1252", "latin-1")
    assert MacroBank(bank_path).macros[-1].text == "Até já"


def test_unknown_placeholders_are_reported_on_import(capsys, bank_path: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", "title,text\nHours,Open {store_hours} at {store_name}.\nFine,Order {order_id}\n")
    code, out, err = run(capsys, "macros", "import", path, "--bank", bank_path)
    assert code == 0 and out.startswith("imported 2 macros")
    assert "  ! line 2: unknown placeholder {store_hours}, {store_name} kept" in err and "line 3" not in err
    _, out, _ = run(capsys, "macros", "list", "--bank", bank_path)
    assert "placeholders: {store_hours} (unknown), {store_name} (unknown)" in out
    assert "placeholders: {order_id}\n" in out


def test_default_bank_is_the_users_seeded_from_the_starter(capsys, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    code, out, _ = run(capsys, "macros", "list", "--json")
    data = json.loads(out)
    assert code == 0 and Path(data["bank"]).is_relative_to(tmp_path / "data")
    assert len(data["macros"]) == len(MacroBank(data["bank"])) >= 25


def test_every_command_needs_its_arguments(capsys) -> None:
    with pytest.raises(SystemExit):
        run(capsys, "macros")
    with pytest.raises(SystemExit):
        run(capsys, "macros", "add", "--title", "No text")
