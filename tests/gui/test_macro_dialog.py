"""The reply bank window (offscreen): filter, the editor, delete, CSV import/export, errors in words."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from assist.gui.macro_dialog import MacroDialog, preview_html
from assist.replies.macros.bank import MacroBank, make_macro

pytestmark = pytest.mark.gui


@pytest.fixture
def bank(tmp_path: Path) -> MacroBank:
    bank = MacroBank(tmp_path / "macros.json")
    bank.add(make_macro("Refund started", "Your refund of {amount} for {order_id} is on its way.",
                        "get_refund", "refunds"))
    bank.add(make_macro("Store hours", "We are open {store_hours}.", team="Tier 1"))
    bank.add(make_macro("Greeting", "Hi {customer_name}, how can I help?", tags="greeting"))
    return bank


@pytest.fixture
def dialog(qtbot, bank: MacroBank) -> MacroDialog:
    dialog = MacroDialog(bank, user="sam")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def select(dialog: MacroDialog, title: str) -> None:
    row = next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 0).text() == title)
    dialog.table.selectRow(row)


def row_of(dialog: MacroDialog, title: str) -> list[str]:
    for r in range(dialog.table.rowCount()):
        if dialog.table.item(r, 0).text() == title:
            return [dialog.table.item(r, c).text() for c in range(dialog.table.columnCount())]
    raise AssertionError(f"no row {title!r}")


def test_table_shows_the_bank_and_flags_unknown_placeholders(dialog: MacroDialog) -> None:
    assert dialog.visible_titles() == ["Refund started", "Store hours", "Greeting"]
    assert row_of(dialog, "Refund started") == ["Refund started", "Your refund of {amount} for {order_id} is on its way.",
                                                "get_refund", "everyone", "{amount}, {order_id}"]
    hours = row_of(dialog, "Store hours")
    assert hours[3] == "Tier 1" and hours[4] == "{store_hours} (unknown)"
    flagged = dialog.table.item(1, 4)
    assert flagged.foreground().color().name() == "#b00020" and "not a placeholder Assist fills" in flagged.toolTip()
    assert dialog.table.item(0, 4).toolTip() == ""
    assert dialog.count_label.text() == "3 macros"
    assert not dialog.edit_button.isEnabled() and not dialog.delete_button.isEnabled()


def test_filter_matches_every_word_in_title_text_intents_tags_and_team(qtbot, dialog: MacroDialog) -> None:
    qtbot.keyClicks(dialog.filter_edit, "REFUND")
    assert dialog.visible_titles() == ["Refund started"] and dialog.count_label.text() == "1 of 3 macros"
    dialog.filter_edit.setText("tier 1 open")
    assert dialog.visible_titles() == ["Store hours"]
    dialog.filter_edit.setText("greeting")  # a tag
    assert dialog.visible_titles() == ["Greeting"]
    dialog.filter_edit.setText("nothing like this")
    assert dialog.visible_titles() == [] and dialog.count_label.text() == "0 of 3 macros"
    qtbot.keyClick(dialog.filter_edit, Qt.Key.Key_Return)  # Enter in the filter box presses no button
    assert dialog.editor is None and dialog.isVisible()
    dialog.filter_edit.clear()
    assert len(dialog.visible_titles()) == 3


def test_add_through_the_form(qtbot, dialog: MacroDialog, bank: MacroBank) -> None:
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    editor = dialog.editor
    assert editor is not None and editor.isVisible() and editor.windowTitle() == "New macro"
    editor.title_edit.setText("Late order")
    qtbot.keyClicks(editor.text_edit, "Sorry, order ")
    editor.placeholder_box.activated.emit(editor.placeholder_box.findData("order_id"))
    editor.text_edit.insertPlainText(" is late; see {tracking_url}.")
    assert editor.text_edit.toPlainText() == "Sorry, order {order_id} is late; see {tracking_url}."
    assert editor.placeholder_box.currentIndex() == 0
    preview = editor.preview.text()
    assert '{order_id}</span>' in preview and "{tracking_url} (unknown)</span>" in preview
    assert "{tracking_url}: not a placeholder Assist fills" in preview
    editor.intents_edit.setText("track_order, order status")
    editor.team_edit.setText("Tier 2")
    with qtbot.waitSignal(dialog.bank_changed, timeout=1000):
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    assert not editor.isVisible() and editor.error_label.text() == ""
    added = bank.macros[-1]
    assert (added.title, added.intents, added.team, added.created_by) == (
        "Late order", ("track_order", "order_status"), "Tier 2", "sam")
    assert MacroBank(bank.path).get(added.id) == added
    assert dialog.selected_macro() == added and dialog.status_label.text() == "Added “Late order”."
    assert row_of(dialog, "Late order")[4] == "{order_id}, {tracking_url} (unknown)"


def test_the_form_refuses_bad_input_in_words_and_stays_open(qtbot, dialog: MacroDialog, bank: MacroBank) -> None:
    saved = bank.path.read_bytes()
    dialog.add_macro()
    editor = dialog.editor
    assert editor is not None
    cases = {("Empty", "   ", ""): "the text is empty",
             ("", "Some text", ""): "the title is empty",
             ("Copy", "hi {customer_name},  HOW can I help?", ""): "repeats the macro 'Greeting'",
             ("Bad intent", "Text", "refund me!"): "intent labels must be words like get_refund"}
    with qtbot.assertNotEmitted(dialog.bank_changed):
        for (title, text, intents), message in cases.items():
            editor.title_edit.setText(title)
            editor.text_edit.setPlainText(text)
            editor.intents_edit.setText(intents)
            editor.save_button.click()
            assert editor.isVisible() and message in editor.error_label.text(), message
    assert len(bank) == 3 and bank.path.read_bytes() == saved
    editor.buttons.rejected.emit()
    assert not editor.isVisible()


def test_a_failed_save_is_said_and_the_bank_shows_what_is_on_disk(qtbot, dialog: MacroDialog, bank: MacroBank,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bank, "save", disk_full)
    dialog.add_macro()
    editor = dialog.editor
    editor.title_edit.setText("New")
    editor.text_edit.setPlainText("Brand new text")
    with qtbot.assertNotEmitted(dialog.bank_changed):
        editor.save_button.click()
    assert editor.isVisible()
    assert editor.error_label.text() == "the reply bank could not be saved (No space left on device)"
    assert [m.title for m in bank] == ["Refund started", "Store hours", "Greeting"]
    assert dialog.table.rowCount() == 3

    select(dialog, "Greeting")
    monkeypatch.setattr(dialog, "_confirm", lambda question: True)
    dialog.delete_button.click()
    assert dialog.status_label.text() == "Could not delete “Greeting”: the reply bank could not be saved (No space left on device)"
    assert "Greeting" in dialog.visible_titles() and len(bank) == 3


def test_edit_keeps_the_id(qtbot, dialog: MacroDialog, bank: MacroBank) -> None:
    original = bank.macros[0]
    select(dialog, "Refund started")
    assert dialog.edit_button.isEnabled()
    qtbot.mouseClick(dialog.edit_button, Qt.MouseButton.LeftButton)
    editor = dialog.editor
    assert editor.windowTitle() == "Edit macro"
    assert (editor.title_edit.text(), editor.intents_edit.text(), editor.tags_edit.text()) == (
        "Refund started", "get_refund", "refunds")
    with qtbot.assertNotEmitted(dialog.bank_changed):
        editor.save_button.click()  # nothing changed: nothing announced
    dialog.edit_selected()
    editor = dialog.editor
    editor.text_edit.setPlainText("Your refund of {amount} was sent on {date}.")
    editor.team_edit.setText("Refunds")
    with qtbot.waitSignal(dialog.bank_changed, timeout=1000):
        editor.save_button.click()
    edited = bank.get(original.id)
    assert edited is not None and edited.text == "Your refund of {amount} was sent on {date}."
    assert edited.team == "Refunds" and edited.intents == original.intents and len(bank) == 3
    assert MacroBank(bank.path).get(original.id) == edited
    assert row_of(dialog, "Refund started")[3:] == ["Refunds", "{amount}, {date}"]


def test_delete_asks_first(qtbot, dialog: MacroDialog, bank: MacroBank, monkeypatch: pytest.MonkeyPatch) -> None:
    questions: list[str] = []
    answer = False

    def confirm(question: str) -> bool:
        questions.append(question)
        return answer

    monkeypatch.setattr(dialog, "_confirm", confirm)
    select(dialog, "Store hours")
    with qtbot.assertNotEmitted(dialog.bank_changed):
        dialog.delete_button.click()
    assert questions == ["Delete the macro “Store hours”?"] and len(bank) == 3
    answer = True
    with qtbot.waitSignal(dialog.bank_changed, timeout=1000):
        dialog.delete_button.click()
    assert dialog.visible_titles() == ["Refund started", "Greeting"]
    assert [m.title for m in MacroBank(bank.path)] == ["Refund started", "Greeting"]
    assert dialog.status_label.text() == "Deleted “Store hours”." and not dialog.delete_button.isEnabled()


def test_import_csv_reports_in_words(qtbot, dialog: MacroDialog, bank: MacroBank, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "team.csv"
    path.write_bytes("title;text;intents\nCafé;Désolé pour {order_id} – {coupon};\nNo text;;\n"
                     "Again;Hi {customer_name}, how can I help?;\nThanks;Thanks for waiting;\n".encode("cp1252"))
    monkeypatch.setattr(dialog, "_ask_open_path", lambda: str(path))
    with qtbot.waitSignal(dialog.bank_changed, timeout=1000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.status_label.text() == ("Imported 2 macro(s) from team.csv; skipped 1 repeated macro(s) and "
                                          "1 malformed row(s).")
    details = dialog.details.toPlainText().splitlines()
    assert dialog.details.isVisible()
    assert details[0] == "Problem: line 3: the text is empty"
    assert details[1].startswith("Problem: line 4: 'Again' repeats 'Greeting'")
    assert "Note: team.csv is not UTF-8; read it as cp1252" in details
    assert any(d.startswith("Note: line 2: unknown placeholder {coupon}") for d in details)
    assert row_of(dialog, "Café")[1:5] == ["Désolé pour {order_id} – {coupon}", "", "everyone",
                                           "{order_id}, {coupon} (unknown)"]
    assert len(MacroBank(bank.path)) == 5 and bank.get(bank.macros[-1].id).created_by == "sam"

    with qtbot.assertNotEmitted(dialog.bank_changed):
        dialog.import_csv()  # the same file again: all repeats, nothing changes
    assert dialog.status_label.text().startswith("Imported 0 macro(s) from team.csv; skipped 3 repeated")
    monkeypatch.setattr(dialog, "_ask_open_path", lambda: "")  # cancelled
    dialog.import_csv()
    assert len(bank) == 5


def test_a_bad_csv_is_refused_and_the_bank_untouched(qtbot, dialog: MacroDialog, bank: MacroBank, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    saved = bank.path.read_bytes()
    files = {"columns.csv": (b"question,answer\nWhere?,Here\n", "the first line must name the columns"),
             "sheet.csv": (b"PK\x03\x04\x00\x00binary", "NUL bytes"), "missing.csv": (None, "cannot read")}
    for name, (data, problem) in files.items():
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        monkeypatch.setattr(dialog, "_ask_open_path", lambda path=path: str(path))
        with qtbot.assertNotEmitted(dialog.bank_changed):
            dialog.import_button.click()
        assert dialog.status_label.text() == f"Nothing imported from {name}; the reply bank is unchanged.", name
        assert "color:#b00020" in dialog.status_label.styleSheet()
        assert dialog.details.isVisible() and dialog.details.toPlainText().startswith("Problem: "), name
        assert problem in dialog.details.toPlainText(), name
    assert bank.path.read_bytes() == saved and dialog.table.rowCount() == 3


def test_export_csv(qtbot, dialog: MacroDialog, bank: MacroBank, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "export.csv"
    monkeypatch.setattr(dialog, "_ask_save_path", lambda: str(out))
    with qtbot.assertNotEmitted(dialog.bank_changed):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert dialog.status_label.text() == "Exported 3 macro(s) to export.csv."
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [r["id"] for r in rows] == [m.id for m in bank] and rows[1]["team"] == "Tier 1"
    again = MacroBank(tmp_path / "again.json")
    assert again.import_csv(out).added == 3 and again.macros == bank.macros

    monkeypatch.setattr(dialog, "_ask_save_path", lambda: str(tmp_path / "no" / "dir" / "x.csv"))
    dialog.export_csv()
    assert dialog.status_label.text().startswith("Could not write ") and "No such file" in dialog.status_label.text()


def test_preview_escapes_html_and_marks_placeholders() -> None:
    html = preview_html("<b>Hi</b> {customer_name} & {coupon}\nbye")
    assert html.startswith("&lt;b&gt;Hi&lt;/b&gt; <span style=")
    assert "{customer_name}</span> &amp; " in html and "{coupon} (unknown)</span><br>bye" in html
    assert preview_html("no placeholders") == "no placeholders"


def test_sorting_by_a_column_keeps_rows_and_macros_together(qtbot, dialog: MacroDialog, bank: MacroBank) -> None:
    header = dialog.table.horizontalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(header.sectionViewportPosition(0) + 5, 5))
    assert dialog.visible_titles() == ["Greeting", "Refund started", "Store hours"]
    dialog.refresh()  # after a change the user's order stays
    assert dialog.visible_titles() == ["Greeting", "Refund started", "Store hours"]
    select(dialog, "Store hours")
    assert dialog.selected_macro() == bank.macros[1]
    dialog.filter_edit.setText("help")
    assert dialog.visible_titles() == ["Greeting"] and dialog.selected_macro() is None
