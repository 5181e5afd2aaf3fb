"""Next best action: the current procedure as a checklist (done steps ticked, the next step in bold).

The panel only paints what ``assist.replies.procedures.tracker.Checklist`` says; it is updated after each chat turn,
so an update reuses the list's items (no relayout): same procedure -> only texts, colours and tooltips
change; the list and hint have fixed heights so the window around them never reflows.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from assist.replies.procedures.tracker import Checklist, StepState

DONE_COLOUR = QColor("#1b7f2a")
PENDING_COLOUR = QColor("#7a7a7a")
NO_PROCEDURE = "No procedure yet"
VISIBLE_ROWS = 4  # most procedures have 3-6 steps; the list scrolls beyond (the next one is always in view)


class NextActionPanel(QWidget):
    """Title, steps (✓ done in green, ➜ next in bold, the rest grey) and the next step's guideline hint."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(NO_PROCEDURE)
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.list = QListWidget()
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row = self.list.fontMetrics().height() + 4
        self.list.setFixedHeight(row * VISIBLE_ROWS + 2 * self.list.frameWidth())
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        self.hint.setFixedHeight(self.hint.fontMetrics().lineSpacing() * 2)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.hint.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addWidget(self.hint)
        layout.addStretch(1)
        self._shown: Checklist | None = None
        self._article = ""
        self._normal, self._bold = QFont(self.list.font()), QFont(self.list.font())
        self._bold.setBold(True)

    def set_compact(self, compact: bool) -> None:
        """Half-screen width: the procedure's name and the next step's line only (the step list folds away)."""
        self.list.setVisible(not compact)

    @property
    def checklist(self) -> Checklist | None:
        """What the panel shows now."""
        return self._shown

    def show_checklist(self, checklist: Checklist | None) -> None:
        """Show ``checklist`` (None: "No procedure yet"); unchanged input costs nothing."""
        if checklist == self._shown:
            return
        self._shown = checklist
        if checklist is None:
            self._article = ""
            self.title.setText(NO_PROCEDURE)
            self.title.setToolTip("")
            self.list.clear()
            self.hint.setText("")
            return
        if checklist.article_id != self._article or self.list.count() != len(checklist.steps):
            self._article = checklist.article_id
            self.list.clear()
            for _ in checklist.steps:
                self.list.addItem(QListWidgetItem())
        self.title.setText(f"{checklist.title} ({checklist.done_count}/{len(checklist.steps)})")
        self.title.setToolTip(f"{checklist.flow} › {checklist.title}")
        for row, state in enumerate(checklist.steps):
            is_next = checklist.next_step is not None and checklist.next_step.id == state.step.id
            self._paint(self.list.item(row), state, is_next)
        nxt = checklist.next_step
        self.hint.setText(f"Next: {nxt.label}. {nxt.hint}" if nxt else "All steps done.")

    def _paint(self, item: QListWidgetItem, state: StepState, is_next: bool) -> None:
        step = state.step
        suffix = " (if needed)" if step.optional and not state.done else ""
        if state.done:
            item.setText(f"✓ {step.label}")
            item.setForeground(QBrush(DONE_COLOUR))
            item.setToolTip(f"Done: {state.evidence}" if state.evidence else "Done")
        elif is_next:
            item.setText(f"➜ {step.label}")
            item.setForeground(QBrush(self.palette().text().color()))
            item.setToolTip(step.hint)
        else:
            item.setText(f"    {step.label}{suffix}")
            item.setForeground(QBrush(PENDING_COLOUR))
            item.setToolTip(step.hint)
        item.setFont(self._bold if is_next else self._normal)
        item.setData(Qt.ItemDataRole.UserRole, step.id)
