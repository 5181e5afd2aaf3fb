"""Conversation view: customer and agent bubbles, appended as messages arrive."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QTextBrowser, QWidget

from assist.domain import Insight, LabelEstimate, Role, ScreenEntity

MAX_SHOWN_CHARS = 2000
INTENT_UNCLEAR_BELOW = 0.4  # a weak top intent is worse than saying we do not know


def intent_label(intent: LabelEstimate) -> str:
    """What the window calls an intent: its name, or "intent unclear" when the model is not sure of it."""
    return "intent unclear" if intent.confidence < INTENT_UNCLEAR_BELOW else intent.label.replace("_", " ")


def insight_tag(insight: Insight) -> str:
    """A customer turn's reading after its speaker's name (HTML): emotion and confidence, the intent the window acts
    on (the conversation's, see ``Insight.goal``) and any escalation. The live window and the review's replay both
    draw it, so a supervisor replays exactly what the agent saw."""
    sep = " &nbsp;·&nbsp; "
    emotion = insight.emotion
    tag = f"{sep}{html.escape(emotion.label)} {emotion.confidence:.0%}" if emotion.probabilities else ""
    tag += f"{sep}{html.escape(intent_label(insight.goal))}"
    level = insight.escalation.level.value
    if level != "low":
        tag += f'{sep}<span style="color:#b00">escalation {html.escape(level)}</span>'
    return tag


_BUBBLE = (
    '<table width="100%" cellspacing="0" cellpadding="0" style="margin-top:6px"><tr>{left}'
    '<td width="78%" style="background:{bg}; padding:7px 10px; border-radius:10px">'
    '<span style="color:#555; font-size:small"><b>{who}</b>{tag}</span><br/>{text}</td>{right}</tr></table>'
)


class ConversationView(QTextBrowser):
    role_change_requested = Signal(str, str)  # message id, the role the agent says it really was

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setPlaceholderText("Start a session, then type or paste what the customer writes.")
        self.count = 0
        self.spans: list[tuple[int, int, str, Role]] = []  # (first block, last block, message id, role) per bubble

    def message_at(self, position) -> tuple[str, Role] | None:
        """The message (id, role) of the bubble at a point of the view, or None (a screenshot, empty space)."""
        block = self.cursorForPosition(position).blockNumber()
        for first, last, message_id, role in self.spans:
            if first <= block <= last and message_id:
                return message_id, role
        return None

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Right-click a message: say who really said it (the analysis is redone and the journal records it)."""
        menu = self.createStandardContextMenu()
        found = self.message_at(event.pos())
        if found is not None:
            message_id, role = found
            other = Role.AGENT if role is Role.CUSTOMER else Role.CUSTOMER
            menu.addSeparator()
            action = menu.addAction(f"This was said by the {other.value}")
            action.setToolTip("Correct the speaker: the message is read again and the correction is recorded")
            action.triggered.connect(lambda: self.role_change_requested.emit(message_id, other.value))
        menu.exec(event.globalPos())

    def add_message(self, role: Role, text: str, insight: Insight | None = None, spoken_at: float | None = None,
                    message_id: str = "") -> None:
        """``spoken_at``: seconds into the call when the turn was spoken (None for typed chat); ``message_id`` lets
        the agent correct the speaker from the bubble's context menu."""
        first = self.document().blockCount()
        shown = text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + f" … [{len(text):,} characters]"
        body = html.escape(shown).replace("\n", "<br/>") or "<i>(no words recognised)</i>"
        tag = insight_tag(insight) if insight is not None else ""
        spacer = '<td width="22%"></td>'
        customer = role is Role.CUSTOMER
        self.append(_BUBBLE.format(
            left="" if customer else spacer,
            right=spacer if customer else "",
            bg="#f0f0f0" if customer else "#dcebff",
            who=("Customer" if customer else "Agent") + (
                "" if spoken_at is None else f"</b> · voice {int(spoken_at) // 60}:{int(spoken_at) % 60:02d}<b>"),
            tag=tag,
            text=body,
        ))
        self.spans.append((first, self.document().blockCount() - 1, message_id, role))
        self.count += 1
        self.moveCursor(QTextCursor.MoveOperation.End)
        self.ensureCursorVisible()

    def add_screenshot(self, path: str, entities: Sequence[ScreenEntity], note: str = "") -> None:
        """A screenshot the agent took: its thumbnail and the details read from it."""
        unique = list(dict.fromkeys((e.kind, e.value) for e in entities))[:8]  # a page repeats itself
        found = ", ".join(f"{kind.replace('_', ' ')}: <b>{html.escape(value)}</b>" for kind, value in unique)
        detail = found or html.escape(note or "no details found")
        image = f'<img src="{html.escape(QUrl.fromLocalFile(path).toString())}" width="160"/><br/>' if path else ""
        self.append(_BUBBLE.format(left='<td width="22%"></td>', right="", bg="#fff8e1", who="Screenshot",
                                   tag="", text=f"{image}{detail}"))
        self.count += 1
        self.moveCursor(QTextCursor.MoveOperation.End)
        self.ensureCursorVisible()

    def clear_conversation(self) -> None:
        self.clear()
        self.count = 0
        self.spans = []
