"""Suggested replies with Insert / Copy / Dismiss (each action is reported for the journal)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from assist.domain import Suggestion


class SuggestionsPanel(QWidget):
    inserted = Signal(str)  # text to put in the input box
    action = Signal(str, str)  # suggestion id, "inserted" | "copied" | "dismissed"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(2)
        self.insert_button = QPushButton("&Insert")
        self.copy_button = QPushButton("&Copy")
        self.dismiss_button = QPushButton("&Dismiss")
        self.insert_button.setToolTip("Put the selected reply in the message box (Alt+1/2/3 for reply 1/2/3)")
        self.copy_button.setToolTip("Copy the selected reply to the clipboard (Ctrl+Shift+C)")
        self.dismiss_button.setToolTip("Remove the selected reply (Ctrl+D)")
        buttons = QHBoxLayout()
        for button in (self.insert_button, self.copy_button, self.dismiss_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.insert_button.clicked.connect(lambda: self.insert(self.list.currentRow()))
        self.copy_button.clicked.connect(self.copy_selected)
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        self.list.itemDoubleClicked.connect(lambda item: self.insert(self.list.row(item)))
        self._update_buttons()
        self.list.currentRowChanged.connect(lambda _: self._update_buttons())

    def set_suggestions(self, suggestions: tuple[Suggestion, ...]) -> None:
        self.list.clear()
        for i, suggestion in enumerate(suggestions, start=1):
            macro = suggestion.kb_entry_id.startswith("macro:")
            source = f"macro “{suggestion.source_title}”" if macro else f"“{suggestion.source_title}”"
            item = QListWidgetItem(f"{i}. {suggestion.text}\n    — from {source}")
            item.setData(Qt.ItemDataRole.UserRole, suggestion)
            kind = "Reply bank" if macro else "Knowledge base"
            why = f"\nWhy: {suggestion.reason}" if suggestion.reason else ""
            item.setToolTip(f"{kind}: {suggestion.source_title} (score {suggestion.score:.2f}){why}")
            self.list.addItem(item)
        if suggestions:
            self.list.setCurrentRow(0)
        self._update_buttons()

    def suggestion_at(self, row: int) -> Suggestion | None:
        item = self.list.item(row) if 0 <= row < self.list.count() else None
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def insert(self, row: int) -> None:
        suggestion = self.suggestion_at(row)
        if suggestion is not None:
            self.inserted.emit(suggestion.text)
            self.action.emit(suggestion.id, "inserted")

    def copy_selected(self) -> None:
        suggestion = self.suggestion_at(self.list.currentRow())
        if suggestion is not None:
            QGuiApplication.clipboard().setText(suggestion.text)
            self.action.emit(suggestion.id, "copied")

    def dismiss_selected(self) -> None:
        row = self.list.currentRow()
        suggestion = self.suggestion_at(row)
        if suggestion is not None:
            self.list.takeItem(row)
            self.action.emit(suggestion.id, "dismissed")
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = self.list.currentRow() >= 0
        for button in (self.insert_button, self.copy_button, self.dismiss_button):
            button.setEnabled(has)
