"""Suggested replies with Insert / Copy / Dismiss (each action is reported for the journal), and, when a local
language model is configured, its draft streaming in above them with the check's warning."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QSyntaxHighlighter, QTextCharFormat, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from assist.domain import Suggestion

PLACEHOLDER = re.compile(r"\[[^\[\]\n]{1,40}\?\]")  # what a macro leaves for the agent: "[customer name?]"


def unfilled_placeholders(text: str) -> list[str]:
    """The placeholders a reply still holds ("[order id?]"), each once, in order."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


class PlaceholderHighlighter(QSyntaxHighlighter):
    """Unfilled placeholders in the message box on a yellow background, in bold."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.style = QTextCharFormat()
        self.style.setBackground(QColor("#fff176"))
        self.style.setFontWeight(700)

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt's name
        for match in PLACEHOLDER.finditer(text):
            self.setFormat(match.start(), match.end() - match.start(), self.style)


class SuggestionsPanel(QWidget):
    inserted = Signal(str)  # text to put in the input box
    action = Signal(str, str)  # suggestion id, "inserted" | "copied" | "dismissed"
    source_requested = Signal(str)  # a KB article id: the agent wants to read where a reply comes from

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(2)
        self.list.setMinimumHeight(self.list.fontMetrics().lineSpacing() * 7)  # the replies, not a sliver
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)  # rows re-wrap when the width changes
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
        layout.addWidget(self._build_draft())
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.insert_button.clicked.connect(lambda: self.insert(self.list.currentRow()))
        self.copy_button.clicked.connect(self.copy_selected)
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        self.list.itemDoubleClicked.connect(lambda item: self.insert(self.list.row(item)))
        self.source_button = QPushButton("&Source")
        self.source_button.setToolTip("Open the knowledge-base article behind the selected reply (Ctrl+Shift+O)")
        self.source_button.clicked.connect(self.open_source)
        buttons.addWidget(self.source_button)
        self._update_buttons()
        self.list.currentRowChanged.connect(lambda _: self._update_buttons())

    def set_suggestions(self, suggestions: tuple[Suggestion, ...]) -> None:
        self.list.clear()
        for suggestion in suggestions:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, suggestion)
            macro = suggestion.kb_entry_id.startswith("macro:")
            kind = "Reply bank" if macro else "Knowledge base"
            why = f"\nWhy: {suggestion.reason}" if suggestion.reason else ""
            missing = unfilled_placeholders(suggestion.text)
            fill = f"\nFill in before sending: {', '.join(missing)}" if missing else ""
            item.setToolTip(f"{kind}: {suggestion.source_title} (score {suggestion.score:.2f}){why}{fill}")
            if missing:
                item.setBackground(QColor("#fffde7"))
            self.list.addItem(item)
        self._number()
        if suggestions:
            self.list.setCurrentRow(0)
        self._update_buttons()
        self.fit_height()

    def set_compact(self, compact: bool) -> None:
        self.fit_height()

    def fit_height(self) -> None:
        """Tall enough for every reply in full (three, each wrapped at the current width): never 2.5 of 3."""
        self.list.doItemsLayout()
        rows = sum(self.list.visualItemRect(self.list.item(r)).height() + 2 * self.list.spacing()
                   for r in range(self.list.count()))
        lines = self.list.fontMetrics().lineSpacing()
        self.list.setMinimumHeight(max(lines * 7, rows + 2 * self.list.frameWidth() + 4))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit_height()

    def _number(self) -> None:
        """Each reply labelled with the Alt+N that inserts it (again after a dismissal)."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            suggestion = item.data(Qt.ItemDataRole.UserRole)
            macro = suggestion.kb_entry_id.startswith("macro:")
            source = f"macro “{suggestion.source_title}”" if macro else f"“{suggestion.source_title}”"
            missing = unfilled_placeholders(suggestion.text)
            fill = f"  ⚠ fill in {', '.join(missing)}" if missing else ""
            item.setText(f"{row + 1}. {suggestion.text}\n    — from {source}{fill}")

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
            self._number()
            self.fit_height()
            self.action.emit(suggestion.id, "dismissed")
        self._update_buttons()

    def open_source(self) -> None:
        suggestion = self.suggestion_at(self.list.currentRow())
        if suggestion is not None and suggestion.kb_entry_id and not suggestion.kb_entry_id.startswith("macro:"):
            self.source_requested.emit(suggestion.kb_entry_id)

    def _update_buttons(self) -> None:
        has = self.list.currentRow() >= 0
        for button in (self.insert_button, self.copy_button, self.dismiss_button):
            button.setEnabled(has)
        current = self.suggestion_at(self.list.currentRow())
        self.source_button.setEnabled(current is not None and bool(current.kb_entry_id)
                                      and not current.kb_entry_id.startswith("macro:"))

    # ----- the language model's draft (absent without a model)
    def _build_draft(self) -> QFrame:
        self.draft_box = QFrame()
        self.draft_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.draft_box.setStyleSheet("QFrame { background:#f4f8ff }")
        self.draft_title = QLabel("Draft")
        self.draft_title.setStyleSheet("font-weight:bold")
        self.draft_text = QLabel()
        self.draft_text.setWordWrap(True)
        self.draft_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.draft_warning = QLabel()
        self.draft_warning.setWordWrap(True)
        self.draft_warning.setStyleSheet("color:#b35900")
        self.draft_insert = QPushButton("Insert draft")
        self.draft_insert.setToolTip("Put the draft in the message box to edit it before sending (Alt+4)")
        self.draft_insert.clicked.connect(self.insert_draft)
        layout = QVBoxLayout(self.draft_box)
        layout.setContentsMargins(6, 4, 6, 4)
        header = QHBoxLayout()
        header.addWidget(self.draft_title, 1)
        header.addWidget(self.draft_insert)
        layout.addLayout(header)
        layout.addWidget(self.draft_text)
        layout.addWidget(self.draft_warning)
        self.draft_box.hide()
        self.draft_message_id = ""
        return self.draft_box

    def show_draft(self, update: object) -> None:
        """Show a draft as it streams in (``assist.pipeline.drafts.DraftUpdate``); the latest message's only."""
        self.draft_message_id = str(getattr(update, "message_id", ""))
        text, done = str(getattr(update, "text", "")), bool(getattr(update, "done", False))
        model = getattr(update, "model", "") or "local model"
        state = "" if done else " — writing…"
        self.draft_title.setText(f"Draft by {model}{state}")
        self.draft_text.setText(text or ("(no draft)" if done else "…"))
        lines = [str(getattr(update, "warning", "")), str(getattr(update, "note", ""))]
        sources = getattr(update, "sources", ())
        if done and sources:
            lines.append("Cites: " + "; ".join(sources))
        self.draft_warning.setText("\n".join(line for line in lines if line))
        self.draft_insert.setEnabled(done and bool(text))
        self.draft_box.show()

    def clear_draft(self) -> None:
        self.draft_message_id = ""
        self.draft_box.hide()

    def insert_draft(self) -> None:
        if self.draft_box.isVisible() and self.draft_insert.isEnabled():
            self.inserted.emit(self.draft_text.text())
