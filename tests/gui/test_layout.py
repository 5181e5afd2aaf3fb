"""Issue 17 (3): the window at 1600, 1024, 683 and 600 px wide (900 high). The current reading (the four named
badges and why), all three suggested replies in full, the checklist's next step and the conversation are visible,
inside the window, not overlapping and not cut; below COMPACT_BELOW (1100 px) the one-column layout is used. Each width is
saved as a PNG (the test's tmp folder) to be looked at."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QFont, QFontMetrics

from assist.domain import (
    ChatMessage,
    EmotionEstimate,
    Escalation,
    EscalationLevel,
    Insight,
    LabelEstimate,
    Role,
    Session,
    Suggestion,
)
from assist.gui.main_window import COMPACT_BELOW, MainWindow
from assist.replies.procedures.tracker import Checklist, ProcedureStep, StepState

pytestmark = pytest.mark.gui

LONG_REPLY = ("I'm really sorry about this, and I understand how frustrating it is. I can update the shipping "
              "address for order TL-12345 as long as it hasn't shipped yet. What's the new address, including the "
              "zip code?")


def _reading(window: MainWindow) -> None:
    """A session with a customer turn read as it would be live: long intent name, high escalation, 3 long replies."""
    window.set_session(Session(id="a" * 32))
    message = ChatMessage(session_id="a" * 32, role=Role.CUSTOMER,
                          text="This is the third time I'm asking and I'm cancelling everything if it's not fixed.")
    window.on_message(message)
    insight = Insight(
        session_id=message.session_id, message_id=message.id,
        emotion=EmotionEstimate({"anger": 0.74, "disgust": 0.1, "fear": 0.02, "joy": 0.01, "neutral": 0.08,
                                 "sadness": 0.03, "surprise": 0.02}),
        sentiment=LabelEstimate("negative", 0.96),
        intent=LabelEstimate("check_cancellation_fee", 0.88),
        escalation=Escalation(EscalationLevel.HIGH, 0.9, ("repeated contact", "threat to leave or close the account",
                                                          "angry (74%)")),
        suggestions=tuple(Suggestion(id=str(i), text=f"{LONG_REPLY} ({i})", source_title="Change shipping address",
                                     score=1.0, kb_entry_id="macro:x") for i in range(3)),
        model_versions={}, timings_ms={},
    )
    window.on_insight(insight)
    steps = tuple(StepState(ProcedureStep(f"s{i}", f"Step {i}", "Ask for the order id and the new address"), i < 2)
                  for i in range(5))
    window.next_step.show_checklist(Checklist("kb-1", "Change Shipping Address", "Shipping", steps, steps[2].step))


def _in_window(window: MainWindow, widget) -> QRect:
    return QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())


@pytest.mark.parametrize("width", [1600, 1024, 683, 600])
def test_key_widgets_are_fully_visible_at_each_width(qtbot, tmp_path, width):
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(width, 900)
    window.show()
    qtbot.waitExposed(window)
    _reading(window)
    qtbot.wait(50)
    window.grab().save(str(tmp_path / f"assist-{width}.png"))
    assert window.width() == width  # nothing stops the window narrowing to half a screen
    assert window.compact is (width < COMPACT_BELOW)  # 1024 and below: one column
    area = window.rect()
    bold = QFont(window.font())
    bold.setBold(True)
    metrics = QFontMetrics(bold)
    key = {"emotion": window.emotion_badge, "sentiment": window.sentiment_badge, "intent": window.intent_badge,
           "escalation": window.escalation_badge, "why": window.escalation_reasons,
           "conversation": window.conversation, "next step": window.next_step.hint,
           "procedure": window.next_step.title, "replies": window.suggestions.list}
    rects = {}
    for name, widget in key.items():
        assert widget.isVisible() and not widget.visibleRegion().isEmpty(), f"{name} is not visible at {width}"
        rect = _in_window(window, widget)
        assert area.contains(rect), f"{name} {rect} is outside the window {area} at {width}"
        rects[name] = rect
    for badge in ("emotion", "sentiment", "intent", "escalation"):
        text = key[badge].text()
        assert text.startswith(badge), text  # named: "emotion: anger 74%"
        assert metrics.horizontalAdvance(text) <= key[badge].contentsRect().width(), f"{text!r} is cut at {width}"
    names = list(rects)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if {a, b} in ({"next step", "procedure"},):
                continue
            assert not rects[a].intersects(rects[b]), f"{a} overlaps {b} at {width}"
    replies = window.suggestions.list
    viewport = replies.viewport().rect()
    assert replies.count() == 3
    for row in range(3):
        item = replies.visualItemRect(replies.item(row))
        assert viewport.contains(item), f"reply {row + 1} is not shown in full at {width}: {item} in {viewport}"
    assert window.next_step.hint.text().startswith("Next:")


def test_the_layout_switches_back_and_forth_without_losing_the_session(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1600, 900)
    window.show()
    _reading(window)
    window.resize(640, 900)
    qtbot.waitUntil(lambda: window.compact is True)
    assert window.left_tabs.tabText(1) == "Call" and window.left_tabs.tabText(2) == "Emotion"
    window.resize(1500, 900)
    qtbot.waitUntil(lambda: window.compact is False)
    assert "Call" not in [window.left_tabs.tabText(i) for i in range(window.left_tabs.count())]
    assert window.suggestions.list.count() == 3 and window.emotion_badge.text() == "emotion: anger 74%"
    qtbot.waitUntil(lambda: window.call_panel.isVisible() and window.bars.isVisible())
