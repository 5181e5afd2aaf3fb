"""The reply bank window: a filterable table of macros, a small editor, and CSV import/export.

Every change is saved by the bank at once and announced with ``bank_changed`` (so the app can reload the
ranker). Problems are shown in the window in words, never raised: a failed import leaves the bank as it was
(``MacroBank.import_csv`` is all or nothing per file).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from assist.replies.macros.bank import Macro, MacroBank, MacroError, MacroImportReport, make_macro
from assist.replies.macros.fill import PLACEHOLDERS, unknown_placeholders

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KNOWN_STYLE = "background-color:#d6eaff;color:#0b3d91;"
_UNKNOWN_STYLE = "background-color:#ffd9d0;color:#8a1c00;font-weight:bold;"
COLUMNS = ("Title", "Text", "Intents", "Team", "Placeholders")
Values = dict[str, str]


def preview_html(text: str) -> str:
    """The macro text as HTML with known placeholders highlighted and unknown ones flagged."""

    def mark(match: re.Match[str]) -> str:
        known = match.group(1) in PLACEHOLDERS
        hint = "" if known else " (unknown)"
        return f'<span style="{_KNOWN_STYLE if known else _UNKNOWN_STYLE}">{match.group(0)}{hint}</span>'

    return _PLACEHOLDER.sub(mark, html.escape(text)).replace("\n", "<br>")


def placeholder_summary(macro: Macro) -> str:
    """``{order_id}, {store_hours} (unknown)``: the placeholders a macro uses, unknown ones marked."""
    return ", ".join("{" + p + "}" + (" (unknown)" if p in macro.unknown_placeholders else "")
                     for p in macro.placeholders)


def report_summary(report: MacroImportReport) -> str:
    """An import report in one sentence."""
    name = Path(report.path).name
    if not report.ok:
        return f"Nothing imported from {name}; the reply bank is unchanged."
    skipped = []
    if report.duplicates:
        skipped.append(f"{report.duplicates} repeated macro(s)")
    if report.skipped:
        skipped.append(f"{report.skipped} malformed row(s)")
    tail = f"; skipped {' and '.join(skipped)}" if skipped else ""
    return f"Imported {report.added} macro(s) from {name}{tail}."


class MacroEditor(QDialog):
    """Title, text, intents, tags and team, with a live preview; ``commit`` saves (raising to refuse)."""

    def __init__(self, commit: Callable[[Values], object], macro: Macro | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit macro" if macro else "New macro")
        self._commit = commit
        self.title_edit = QLineEdit(macro.title if macro else "")
        self.text_edit = QPlainTextEdit(macro.text if macro else "")
        self.text_edit.setPlaceholderText("Hi {customer_name}, your order {order_id} ...")
        self.intents_edit = QLineEdit(", ".join(macro.intents) if macro else "")
        self.intents_edit.setPlaceholderText("get_refund, track_refund")
        self.tags_edit = QLineEdit(", ".join(macro.tags) if macro else "")
        self.team_edit = QLineEdit(macro.team if macro else "")
        self.team_edit.setPlaceholderText("everyone")
        self.placeholder_box = QComboBox()
        self.placeholder_box.addItem("Insert placeholder…")
        for name, where in PLACEHOLDERS.items():
            self.placeholder_box.addItem("{" + name + "}", name)
            self.placeholder_box.setItemData(self.placeholder_box.count() - 1, where, Qt.ItemDataRole.ToolTipRole)
        self.preview = QLabel()
        self.preview.setTextFormat(Qt.TextFormat.RichText)
        self.preview.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color:#b00020;")
        self.error_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)

        form = QFormLayout()
        form.addRow("&Title", self.title_edit)
        form.addRow("Te&xt", self.text_edit)
        form.addRow("", self.placeholder_box)
        form.addRow("&Intents", self.intents_edit)
        form.addRow("T&ags", self.tags_edit)
        form.addRow("Tea&m", self.team_edit)
        form.addRow("Preview", self.preview)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.text_edit.textChanged.connect(self._update_preview)
        self.placeholder_box.activated.connect(self._insert_placeholder)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self._update_preview()

    def values(self) -> Values:
        return {"title": self.title_edit.text(), "text": self.text_edit.toPlainText(),
                "intents": self.intents_edit.text(), "tags": self.tags_edit.text(), "team": self.team_edit.text()}

    def save(self) -> None:
        """Commit the form; a refusal (empty text, duplicate, disk full) is shown and the form stays open."""
        try:
            self._commit(self.values())
        except (ValueError, OSError) as exc:  # MacroError is a ValueError
            self.error_label.setText(_in_words(exc))
            return
        self.error_label.clear()
        self.accept()

    def _update_preview(self) -> None:
        text = self.text_edit.toPlainText()
        body = preview_html(text) if text.strip() else "<i>The reply as the agent will see it.</i>"
        unknown = unknown_placeholders(text)
        if unknown:
            names = ", ".join("{" + p + "}" for p in unknown)
            body += (f"<br><small>{html.escape(names)}: not a placeholder Assist fills; it stays marked for the "
                     f"agent to fill in.</small>")
        self.preview.setText(body)

    def _insert_placeholder(self, index: int) -> None:
        name = self.placeholder_box.itemData(index)
        if name:
            self.text_edit.insertPlainText("{" + name + "}")
            self.text_edit.setFocus()
        self.placeholder_box.setCurrentIndex(0)


class MacroDialog(QDialog):
    """Browse, filter, add, edit and delete the reply bank's macros; import and export CSV."""

    bank_changed = Signal()  # after any change that was saved

    def __init__(self, bank: MacroBank, user: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reply bank")
        self.resize(900, 520)
        self.bank = bank
        self.user = user  # recorded as created_by on new and imported macros
        self.editor: MacroEditor | None = None
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by title, text, intent, tag or team")
        self.filter_edit.setClearButtonEnabled(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # bank order until clicked
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.count_label = QLabel()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(110)
        self.details.hide()
        self.add_button = QPushButton("&Add…")
        self.edit_button = QPushButton("&Edit…")
        self.delete_button = QPushButton("&Delete")
        self.import_button = QPushButton("&Import CSV…")
        self.export_button = QPushButton("E&xport CSV…")
        self.close_button = QPushButton("Close")

        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.count_label)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.delete_button, None, self.import_button,
                       self.export_button, self.close_button):
            if button is None:
                buttons.addStretch(1)
            else:
                button.setAutoDefault(False)  # Enter in the filter box must not press Add
                buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status_label)
        layout.addWidget(self.details)
        layout.addLayout(buttons)

        self.filter_edit.textChanged.connect(self.apply_filter)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.edit_selected())
        self.add_button.clicked.connect(self.add_macro)
        self.edit_button.clicked.connect(self.edit_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.import_button.clicked.connect(self.import_csv)
        self.export_button.clicked.connect(self.export_csv)
        self.close_button.clicked.connect(self.accept)
        self.refresh()

    # --- the table ---------------------------------------------------------------------------
    def refresh(self, select_id: str = "") -> None:
        """Rebuild the table from the bank (keeping the filter); select ``select_id`` when given."""
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        for macro in self.bank.macros:
            self._append_row(macro)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnToContents(0)
        self.apply_filter(self.filter_edit.text())
        if select_id:
            row = next((r for r in range(self.table.rowCount()) if self.macro_id_at(r) == select_id), -1)
            if row >= 0:
                self.table.selectRow(row)
        self._update_buttons()

    def _append_row(self, macro: Macro) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        text = " ".join(macro.text.split())
        cells = (macro.title, text if len(text) <= 140 else text[:139] + "…", ", ".join(macro.intents),
                 macro.team or "everyone", placeholder_summary(macro))
        for column, value in enumerate(cells):
            item = QTableWidgetItem(value)
            self.table.setItem(row, column, item)
        title = self.table.item(row, 0)
        title.setData(Qt.ItemDataRole.UserRole, macro.id)
        title.setData(Qt.ItemDataRole.UserRole + 1, " ".join((macro.title, macro.text, *macro.intents, *macro.tags,
                                                              macro.team)).lower())
        self.table.item(row, 1).setToolTip(macro.text)
        if macro.unknown_placeholders:
            flagged = self.table.item(row, 4)
            flagged.setForeground(QColor("#b00020"))
            names = ", ".join("{" + p + "}" for p in macro.unknown_placeholders)
            flagged.setToolTip(f"{names}: not a placeholder Assist fills; the agent fills it in by hand")

    def macro_id_at(self, row: int) -> str:
        item = self.table.item(row, 0)
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def visible_titles(self) -> list[str]:
        """Titles of the rows the filter shows, top to bottom."""
        return [self.table.item(r, 0).text() for r in range(self.table.rowCount()) if not self.table.isRowHidden(r)]

    def apply_filter(self, text: str) -> None:
        """Show rows whose title, text, intents, tags or team contain every word of ``text``."""
        words = text.lower().split()
        shown = 0
        for row in range(self.table.rowCount()):
            haystack = str(self.table.item(row, 0).data(Qt.ItemDataRole.UserRole + 1))
            hidden = not all(word in haystack for word in words)
            self.table.setRowHidden(row, hidden)
            shown += not hidden
        total = self.table.rowCount()
        self.count_label.setText(f"{shown} of {total} macros" if words else f"{total} macros")

    def selected_macro(self) -> Macro | None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        row = next(iter(rows), -1)
        return self.bank.get(self.macro_id_at(row)) if row >= 0 and not self.table.isRowHidden(row) else None

    def _update_buttons(self) -> None:
        chosen = self.selected_macro() is not None
        self.edit_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    # --- changes -----------------------------------------------------------------------------
    def add_macro(self) -> None:
        def commit(values: Values) -> Macro:
            macro = self.bank.add(make_macro(created_by=self.user, **values))
            self._changed(f"Added “{macro.title}”.", macro.id)
            return macro

        self._open_editor(commit, None)

    def edit_selected(self) -> None:
        macro = self.selected_macro()
        if macro is None:
            return

        def commit(values: Values) -> Macro:
            checked = make_macro(**values)
            if (checked.title, checked.text, checked.intents, checked.tags, checked.team) == \
                    (macro.title, macro.text, macro.intents, macro.tags, macro.team):
                return macro  # nothing changed: nothing to save or announce
            new = self.bank.update(macro.id, title=checked.title, text=checked.text, intents=checked.intents,
                                   tags=checked.tags, team=checked.team)
            self._changed(f"Saved “{new.title}”.", new.id)
            return new

        self._open_editor(commit, macro)

    def _open_editor(self, commit: Callable[[Values], Macro], macro: Macro | None) -> None:
        def guarded(values: Values) -> Macro:
            try:
                return commit(values)
            except OSError as exc:
                self._resync()  # the bank may have changed in memory but not on disk: show what is saved
                raise MacroError(f"the reply bank could not be saved ({_in_words(exc)})") from exc

        self.editor = MacroEditor(guarded, macro, self)
        self.editor.open()

    def delete_selected(self) -> None:
        macro = self.selected_macro()
        if macro is None or not self._confirm(f"Delete the macro “{macro.title}”?"):
            return
        try:
            self.bank.delete(macro.id)
        except (ValueError, OSError) as exc:
            self._resync()
            self._show_error(f"Could not delete “{macro.title}”: {_in_words(exc)}")
            return
        self._changed(f"Deleted “{macro.title}”.")

    def import_csv(self) -> None:
        path = self._ask_open_path()
        if not path:
            return
        report = self.bank.import_csv(path, created_by=self.user)
        lines = [*(f"Problem: {p}" for p in report.problems), *(f"Note: {w}" for w in report.warnings)]
        self.details.setPlainText("\n".join(lines))
        self.details.setVisible(bool(lines))
        if not report.ok:
            self._show_error(report_summary(report))
            return
        if report.added:
            self._changed(report_summary(report), keep_details=True)
        else:
            self._show_status(report_summary(report), keep_details=True)

    def export_csv(self) -> None:
        path = self._ask_save_path()
        if not path:
            return
        try:
            count = self.bank.export_csv(path)
        except OSError as exc:
            self._show_error(f"Could not write {path}: {_in_words(exc)}")
            return
        self._show_status(f"Exported {count} macro(s) to {Path(path).name}.")

    def _changed(self, message: str, select_id: str = "", keep_details: bool = False) -> None:
        self.refresh(select_id)
        self._show_status(message, keep_details)
        self.bank_changed.emit()

    def _resync(self) -> None:
        """After a failed save, show the bank as it is on disk."""
        try:
            if self.bank.path.exists():
                self.bank.load()
        except MacroError:
            pass
        self.refresh()

    # --- messages and questions (methods, so tests can answer them) --------------------------
    def _show_status(self, message: str, keep_details: bool = False) -> None:
        self.status_label.setStyleSheet("")
        self.status_label.setText(message)
        if not keep_details:
            self.details.hide()

    def _show_error(self, message: str) -> None:
        self.status_label.setStyleSheet("color:#b00020;")
        self.status_label.setText(message)

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Reply bank", question)
        return answer == QMessageBox.StandardButton.Yes

    def _ask_open_path(self) -> str:
        path, _ = QFileDialog.getOpenFileName(self, "Import macros from CSV", "", "CSV files (*.csv *.tsv *.txt);;"
                                                                                  "All files (*)")
        return path

    def _ask_save_path(self) -> str:
        path, _ = QFileDialog.getSaveFileName(self, "Export macros as CSV", "macros.csv", "CSV files (*.csv)")
        return path


def _in_words(exc: BaseException) -> str:
    """An error as the agent reads it (OSError: the system's words, e.g. "No space left on device")."""
    return str(exc.strerror or exc) if isinstance(exc, OSError) else str(exc)
