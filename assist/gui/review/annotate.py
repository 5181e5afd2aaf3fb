"""Correcting a customer turn in a replay: the right emotion or intent, and a comment, saved as the supervisor's
annotation (apart from the model's outputs, with who and when) in the session's own journal."""

from __future__ import annotations

import getpass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from assist.domain import EKMAN_EMOTIONS
from assist.inference.labels import INTENTS
from assist.pipeline.review import ReplayTurn

KEEP = "(as the model says)"


def default_author() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (some services): the supervisor types one
        return ""


class AnnotationBar(QWidget):
    """Shown for the customer turn picked in the transcript; Save writes the changed fields and the comment."""

    saved = Signal(str)  # the event id that was annotated

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.turn: ReplayTurn | None = None
        self.journal: Path | None = None
        self.what = QLabel()
        self.emotion = QComboBox()
        self.emotion.addItems([KEEP, *EKMAN_EMOTIONS])
        self.intent = QComboBox()
        self.intent.addItems([KEEP, *INTENTS])
        self.comment = QLineEdit(placeholderText="Comment (optional)")
        self.author = QLineEdit(default_author(), placeholderText="Your name")
        self.author.setMaximumWidth(120)
        self.save_button = QPushButton("Save correction")
        self.save_button.clicked.connect(self.save)
        self.result = QLabel()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.what, self.emotion, self.intent, self.comment, self.author, self.save_button, self.result):
            row.addWidget(widget)
        self.hide()

    def set_turn(self, turn: ReplayTurn, journal: Path) -> None:
        self.turn, self.journal = turn, journal
        insight = turn.insight or {}
        self.what.setText(f"Correct: model said {insight.get('emotion', '?')} / {insight.get('intent', '?')} →")
        self.emotion.setCurrentIndex(0)
        self.intent.setCurrentIndex(0)
        self.comment.clear()
        self.result.clear()
        self.show()

    def save(self) -> bool:
        """Write the annotations (each field changed, and the comment); say what happened in words."""
        from assist.storage import StorageError
        from assist.storage.annotations import AnnotationStore

        if self.turn is None or self.journal is None:
            return False
        changes = [(f, box.currentText()) for f, box in (("emotion", self.emotion), ("intent", self.intent))
                   if box.currentIndex() > 0]
        comment = self.comment.text().strip()
        if not changes and not comment:
            self.result.setText("Pick a label or write a comment first.")
            return False
        try:
            store = AnnotationStore(self.journal, self.author.text(), intents=INTENTS)
            for field, value in changes:
                store.check(field, value)
            for field, value in changes:
                store.annotate(self.turn.event_id, field, value)
            if comment:
                store.comment(self.turn.event_id, comment)
        except (StorageError, ValueError) as exc:
            self.result.setText(f"⚠ {exc}")
            self.result.setStyleSheet("color:#b00")
            return False
        self.result.setText("Saved.")
        self.result.setStyleSheet("color:#2e7d32")
        self.saved.emit(self.turn.event_id)
        return True
