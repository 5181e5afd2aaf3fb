"""The reply bank: filling placeholders, the JSON bank, and CSV import/export (bad input included)."""

from __future__ import annotations

import csv
from collections import namedtuple
from pathlib import Path

import pytest

from assist.domain import ScreenEntity
from assist.replies.macros.bank import (
    DuplicateMacro,
    MacroBank,
    MacroError,
    make_macro,
    starter_csv_path,
)
from assist.replies.macros.fill import PLACEHOLDERS, FillContext, extract_from_text, fill, format_amount, format_date

Entity = namedtuple("Entity", "kind value")  # the shape of assist.inference.screen.entities.Entity that fill reads


@pytest.fixture
def bank(tmp_path: Path) -> MacroBank:
    return MacroBank(tmp_path / "macros.json")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --- filling ------------------------------------------------------------------------------------
def test_fill_takes_order_id_amount_and_date_from_screenshot_entities() -> None:
    context = FillContext(entities=[ScreenEntity("order_id", "ORD-2024-0012"),
                                    Entity("amount", "1234.5 USD"), Entity("date", "2024-03-15"),
                                    ScreenEntity("order_id", "OLDER-1")],
                          customer_name="Maria", agent_name="Sam")
    out = fill("Hi {customer_name}, {agent_name} here: order {order_id}, {amount} on {date}.", context)
    assert out.text == "Hi Maria, Sam here: order ORD-2024-0012, $1,234.50 on March 15, 2024."
    assert out.missing == [] and out.complete
    assert out.origins == {"customer_name": "context", "agent_name": "context", "order_id": "screen",
                           "amount": "screen", "date": "screen"}


def test_fill_reads_the_entities_the_screenshot_reader_finds() -> None:
    from assist.inference.screen.entities import extract_entities

    ocr_lines = ["Order Details", "Order #AC48213   Placed 03/02/2024", "Status: Delayed", "Total: $59.99"]
    context = FillContext(entities=list(reversed(extract_entities(ocr_lines))))
    out = fill("Order {order_id} ({status}, {amount}, placed {date}) for {customer_name}", context)
    assert out.text == "Order AC48213 (Delayed, $59.99, placed March 2, 2024) for [customer name?]"
    assert out.missing == ["customer_name"]


def test_unfilled_placeholders_stay_visibly_marked_and_listed() -> None:
    out = fill("Refund of {amount} for order {order_id}, {customer_name}.", FillContext())
    assert out.text == "Refund of [amount?] for order [order id?], [customer name?]."
    assert out.missing == ["amount", "order_id", "customer_name"]
    assert out.filled == {} and not out.complete


def test_chat_fills_what_no_screenshot_has_latest_turn_first() -> None:
    context = FillContext(entities=[ScreenEntity("status", "Delayed")],
                          conversation=["it was $59.99 and my order is AC-48213", "order #AC-11111 was fine",
                                        "my name is Dana Lee"])
    out = fill("{customer_name}: order {order_id} ({status}) cost {amount}", context)
    assert out.text == "Dana Lee: order AC-48213 (Delayed) cost $59.99"
    assert out.origins == {"customer_name": "chat", "order_id": "chat", "status": "screen", "amount": "chat"}
    screen_first = FillContext(entities=[ScreenEntity("order_id", "ORD-9")], conversation=["order AC-48213"])
    assert fill("{order_id}", screen_first).text == "ORD-9"


def test_chat_patterns_on_their_own() -> None:
    found = extract_from_text("Order ID is 3814573430, ticket TKT-5521, account ACC-00912, "
                              "error ERR_PAYMENT_DECLINED on 2024-02-30 and 3/7/2024, 12 euros")
    assert found == {"order_id": "3814573430", "ticket_id": "TKT-5521", "account_id": "ACC-00912",
                     "amount": "12.00 EUR", "date": "2024-03-07", "error_code": "ERR_PAYMENT_DECLINED"}
    assert extract_from_text("I ordered 22 shirts, my account is locked") == {}
    assert format_amount("12.5 CAD") == "12.50 CAD" and format_amount("about ten") == "about ten"
    assert format_date("2024-13-01") == "2024-13-01"


def test_unknown_placeholders_are_kept_marked_never_crash_and_extra_fills_them() -> None:
    out = fill("Our {store_hours} apply to {order_id}. {{literal}}", FillContext())
    assert out.text == "Our [store hours?] apply to [order id?]. {[literal?]}"
    assert out.unknown == ["store_hours", "literal"]
    filled = fill("Open {store_hours}.", FillContext(extra={"store_hours": "9-5"}))
    assert filled.text == "Open 9-5." and filled.origins == {"store_hours": "context"}


# --- the bank -----------------------------------------------------------------------------------
def test_add_update_delete_persist_and_keep_ids(bank: MacroBank) -> None:
    macro = bank.add(make_macro("Refund", "Refund of {amount} started.", "get_refund|track_refund", "refunds",
                                team="Tier 1", created_by="sam"))
    assert macro.intents == ("get_refund", "track_refund") and macro.placeholders == ("amount",)
    updated = bank.update(macro.id, text="Refund of {amount} for {order_id} started.")
    assert updated.id == macro.id and MacroBank(bank.path).get(macro.id) == updated
    with pytest.raises(DuplicateMacro):
        bank.add(make_macro("Copy", "  refund of {amount} FOR {order_id} started. ", team="Tier 1"))
    bank.add(make_macro("Copy", "Refund of {amount} for {order_id} started.", team="Tier 2"))  # other team: fine
    assert [m.team for m in bank.for_team("Tier 2")] == ["Tier 2"]
    bank.delete(macro.id)
    assert macro.id not in MacroBank(bank.path)
    with pytest.raises(MacroError):
        bank.delete(macro.id)
    with pytest.raises(MacroError, match="intent"):
        make_macro("x", "y", intents="get refund!")


def test_corrupt_bank_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = write(tmp_path / "macros.json", '{"macros": [{"title": "no text"}]')
    with pytest.raises(MacroError, match="unreadable or corrupt"):
        MacroBank(path)
    assert path.read_text() == '{"macros": [{"title": "no text"}]'


def test_starter_bank_is_realistic_and_seeds_a_first_run(tmp_path: Path) -> None:
    bank = MacroBank.open_user_bank(tmp_path / "user" / "macros.json")
    assert len(bank) >= 25 and bank.path.exists()
    assert all(not m.unknown_placeholders for m in bank)
    used = {p for m in bank for p in m.placeholders}
    assert {"order_id", "amount", "customer_name", "agent_name", "date", "error_code", "account_id"} <= used
    assert {"get_refund", "track_order", "cancel_order", "recover_password"} <= {i for m in bank for i in m.intents}
    assert set(PLACEHOLDERS) >= used
    assert len(MacroBank.open_user_bank(bank.path)) == len(bank)  # not seeded twice


# --- CSV ----------------------------------------------------------------------------------------
def test_csv_round_trip_keeps_everything(bank: MacroBank, tmp_path: Path) -> None:
    report = bank.import_csv(starter_csv_path())
    assert report.ok and report.added == len(bank) and not report.problems
    bank.update(bank.macros[0].id, team="Tier 1", tags=("greeting", "vip, polite"))
    out = tmp_path / "export.csv"
    assert bank.export_csv(out) == len(bank)
    again = MacroBank(tmp_path / "again.json")
    assert again.import_csv(out).added == len(bank)
    assert again.macros == bank.macros


def test_malformed_rows_are_skipped_and_named_by_line(bank: MacroBank, tmp_path: Path) -> None:
    bank.add(make_macro("Existing", "Thanks for waiting!"))
    path = write(tmp_path / "m.csv", "Title,Text,Intents\n"
                 "Good,\"Two\nlines for {order_id}\",track_order\n"  # lines 2-3
                 "No text,,\n"  # line 4
                 "Too,many,cells,here\n"  # line 5
                 "Bad intent,Some text,refund me!\n"  # line 6
                 "\n"
                 "Again,three lines for {order_id},\n"  # line 8
                 "Dup of earlier,\"Two\nlines for {order_id}\",\n"  # line 9
                 "Dup of bank,thanks for   waiting!,\n"  # line 11
                 "Custom,Open {store_hours},\n")  # line 12
    report = bank.import_csv(path)
    assert report.ok and report.added == 3 and report.skipped == 3 and report.duplicates == 2
    assert [p.split(":")[0] for p in report.problems] == ["line 4", "line 5", "line 6", "line 9", "line 11"]
    assert "text is empty" in report.problems[0] and "4 cells for 3 columns" in report.problems[1]
    assert report.warnings and report.warnings[0].startswith("line 12: unknown placeholder {store_hours}")
    assert len(bank) == 4 and len(MacroBank(bank.path)) == 4


def test_failed_imports_leave_the_bank_untouched(bank: MacroBank, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bank.add(make_macro("Keep me", "Kept."))
    saved = bank.path.read_bytes()
    cases = {
        "no_columns.csv": "question,answer\nWhere?,Here\n",
        "binary.csv": "title,text\nA,\x00\x01\x02\n",
        "empty.csv": "",
    }
    for name, text in cases.items():
        report = bank.import_csv(write(tmp_path / name, text))
        assert not report.ok and report.added == 0 and report.problems, name
    assert not bank.import_csv(tmp_path / "missing.csv").ok
    strict = bank.import_csv(write(tmp_path / "one_bad.csv", "title,text\nA,fine\nB,\n"), strict=True)
    assert not strict.ok and "nothing imported" in strict.problems[-1]

    def fail_save() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bank, "save", fail_save)
    full_disk = bank.import_csv(write(tmp_path / "ok.csv", "title,text\nA,fine\n"))
    assert not full_disk.ok and "No space left" in full_disk.problems[-1]
    assert [m.title for m in bank] == ["Keep me"] and bank.path.read_bytes() == saved
    kept = bank.macros[0]
    for change in (lambda: bank.add(make_macro("New", "Never saved.")), lambda: bank.update(kept.id, title="Renamed"),
                   lambda: bank.delete(kept.id)):
        with pytest.raises(MacroError, match="No space left"):
            change()
        assert [m.title for m in bank] == ["Keep me"] and bank.path.read_bytes() == saved


def test_cp1252_and_semicolon_files_import(bank: MacroBank, tmp_path: Path) -> None:
    path = write(tmp_path / "excel.csv", "title;text;tags\nCafé;We’re sorry about order {order_id} – really.;empathy\n",
                 encoding="cp1252")
    report = bank.import_csv(path)
    assert report.ok and report.encoding == "cp1252" and "cp1252" in report.warnings[0]
    macro = bank.macros[0]
    assert (macro.title, macro.text, macro.tags) == ("Café", "We’re sorry about order {order_id} – really.",
                                                    ("empathy",))
    bom = write(tmp_path / "bom.csv", "\ufefftitle,text\nHi,Hello there\n")
    assert bank.import_csv(bom).encoding == "utf-8" and bank.get(bank.macros[-1].id).title == "Hi"


def test_export_is_plain_utf8_csv(bank: MacroBank, tmp_path: Path) -> None:
    bank.add(make_macro("Quote", 'He said "hi", then left.', intents=["track_order"], tags="a|b"))
    out = tmp_path / "out.csv"
    bank.export_csv(out)
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert rows[0]["text"] == 'He said "hi", then left.' and rows[0]["intents"] == "track_order"
    assert rows[0]["tags"] == "a|b" and rows[0]["id"].startswith("m-")
    again = MacroBank(tmp_path / "again.json")
    assert again.import_csv(out).added == 1 and again.macros == bank.macros
    tabs = write(tmp_path / "tabs.tsv", 'title\ttext\nQuoted\t"Say ""cheese"", please"\n')
    assert again.import_csv(tabs).added == 1 and again.macros[-1].text == 'Say "cheese", please'
