"""Main window: conversation, input with customer/agent toggle, emotion panel, suggestions."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont, QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from assist.domain import ChatMessage, EventKind, Insight, Role, Session
from assist.gui.call_panel import CallPanel
from assist.gui.capture_actions import CaptureActions
from assist.gui.checklist import NextActionPanel
from assist.gui.conversation import INTENT_UNCLEAR_BELOW, ConversationView, intent_label
from assist.gui.emotion_chart import EmotionBars, EmotionTimeline
from assist.gui.suggestions import PlaceholderHighlighter, SuggestionsPanel, unfilled_placeholders
from assist.gui.window_tools import KnowledgeTools

log = logging.getLogger(__name__)

ESCALATION_STYLE = {"low": "#2e7d32", "medium": "#ef6c00", "high": "#c62828"}
COMPACT_BELOW = 1100  # window width (px) under which the one-column layout is used (half a screen, a small laptop)
_BADGE = "QLabel {{ background:{bg}; color:white; border-radius:8px; padding:3px 9px; font-weight:bold }}"


def _badge(text: str, colour: str = "#546e7a") -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(_BADGE.format(bg=colour))
    return label


class MainWindow(QMainWindow):
    send_requested = Signal(str, str)  # role, text
    start_requested = Signal()
    end_requested = Signal()
    feedback_given = Signal(str, str)  # suggestion id, action
    insight_shown = Signal(object)  # emitted on the GUI thread once every panel shows the Insight
    agent_changed = Signal(str, str)  # name, team: set in Settings or at the first start (the app saves them)
    role_correction_requested = Signal(str, str)  # message id, role: the agent corrected who said a message
    conversation_requested = Signal(str)  # the agent picked another chat-feed conversation to show

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Assist — agent assist")
        self.resize(1280, 800)
        self.role = Role.CUSTOMER
        self.session: Session | None = None
        self.model_ready = False
        self.insights: list[Insight] = []
        self.messages: dict[str, ChatMessage] = {}
        self.agent_name, self.team = "", ""
        self.bubbles: list[tuple[str, object]] = []  # what the conversation shows, in order: ("message", id) or
        # ("screenshot", result), so it can be drawn again after a correction
        self._build()
        self._shortcuts()
        self.set_session(None)

    # ----- layout
    def _build(self) -> None:
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("QLabel { background:#fdecea; color:#611a15; padding:6px; border:1px solid #f5c6cb }")
        self.banner.hide()
        self.banner.mousePressEvent = lambda event: self.banner.hide()  # type: ignore[method-assign]

        self.call_panel = CallPanel()
        self.conversation = ConversationView()
        self.conversation.role_change_requested.connect(self.role_correction_requested)
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("Type or paste a message (Ctrl+Enter to send, Ctrl+T to switch speaker)")
        self.input.setMaximumHeight(90)
        self.placeholder_highlighter = PlaceholderHighlighter(self.input.document())  # "[customer name?]" stands out
        self.role_button = QPushButton()
        self.role_button.setToolTip("Who wrote this message (Ctrl+T)")
        self.role_button.clicked.connect(self.toggle_role)
        self.send_button = QPushButton("Send")
        self.send_button.setToolTip("Analyse and record the message (Ctrl+Enter)")
        self.send_button.clicked.connect(self.send)
        input_row = QHBoxLayout()
        input_row.addWidget(self.role_button)
        input_row.addWidget(self.input, 1)
        input_row.addWidget(self.send_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.call_panel)
        left_layout.addWidget(self.conversation, 1)
        left_layout.addLayout(input_row)

        self.emotion_badge = _badge("emotion —")
        self.sentiment_badge = _badge("sentiment —")
        self.intent_badge = _badge("intent —")
        self.escalation_badge = _badge("escalation —")
        self.escalation_reasons = QLabel()
        self.escalation_reasons.setWordWrap(True)
        # the current reading (badges and why), laid out in one row (wide) or two (half-screen): _apply_layout
        self.reading = QWidget()
        self.badge_grid = QGridLayout(self.reading)  # two badges a row: fits half a screen, and a narrow right side
        self.badge_grid.setContentsMargins(0, 0, 0, 0)
        for i, badge in enumerate(self._badges()):
            self.badge_grid.addWidget(badge, i // 2, i % 2)
        self.badge_grid.addWidget(self.escalation_reasons, 2, 0, 1, 3)
        self.badge_grid.setColumnStretch(2, 1)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color:#8a6d3b")
        self._fix_geometry()
        self.bars = EmotionBars()
        self.timeline = EmotionTimeline()
        self.emotion_box = QGroupBox("Customer emotion")
        emotion_layout = QVBoxLayout(self.emotion_box)
        emotion_layout.addWidget(self.reading)
        charts = QHBoxLayout()  # side by side: the column keeps its height for the replies
        charts.addWidget(self.bars, 1)
        charts.addWidget(self.timeline, 1)
        emotion_layout.addLayout(charts, 1)
        emotion_layout.addWidget(self.notes)
        self.suggestions = SuggestionsPanel()
        self.suggestions.inserted.connect(self.insert_reply)
        self.suggestions.action.connect(self.feedback_given)
        self.suggestions.action.connect(self._note_insert)
        self.pending_insert: tuple[str, str] | None = None  # (suggestion id, text) put in the box, not yet sent
        self.next_step = NextActionPanel()
        self.next_box = QGroupBox("Next step (from the team's procedures)")
        QVBoxLayout(self.next_box).addWidget(self.next_step)
        self.suggestion_box = QGroupBox("Suggested replies (knowledge base and reply bank)")
        QVBoxLayout(self.suggestion_box).addWidget(self.suggestions)
        self.right = QWidget()
        self.right_layout = QVBoxLayout(self.right)

        self.left_tabs = QTabWidget()
        self.left_tabs.addTab(left, "Conversation")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left_tabs)
        self.splitter.addWidget(self.right)
        self.splitter.setSizes([560, 720])
        # half-screen width: one column (the reading, the conversation, the next step, the replies); the call,
        # the emotion chart and the knowledge base fold into the conversation's tabs
        self.narrow = QWidget()
        self.narrow_layout = QVBoxLayout(self.narrow)
        self.narrow_layout.setContentsMargins(4, 4, 4, 4)
        self.call_tab = QWidget()
        QVBoxLayout(self.call_tab).addWidget(self.call_panel)
        self.call_tab.layout().addStretch(1)
        self.left_layout = left_layout
        self.layouts = QStackedWidget()
        self.layouts.addWidget(self.splitter)
        self.layouts.addWidget(self.narrow)
        self.layouts.setMinimumSize(360, 400)  # the wide page's minimum must not stop the window narrowing to half
        self.compact: bool | None = None
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.addWidget(self.banner)
        self.main_tabs = QTabWidget()  # the live session; supervisors add a Review tab (app.gui_main)
        self.main_tabs.setDocumentMode(True)
        self.main_tabs.addTab(self.layouts, "Assist")
        central_layout.addWidget(self.main_tabs, 1)
        self.setCentralWidget(central)
        self._apply_layout(False)

        toolbar = self.addToolBar("Session")
        toolbar.setMovable(False)
        self.start_action = QAction("Start session", self, shortcut=QKeySequence("Ctrl+N"))
        self.start_action.setToolTip("Start a new session (Ctrl+N)")
        self.start_action.triggered.connect(self.start_requested)
        self.end_action = QAction("End session", self, shortcut=QKeySequence("Ctrl+E"))
        self.end_action.setToolTip("End the session (Ctrl+E)")
        self.end_action.triggered.connect(self.end_requested)
        toolbar.addAction(self.start_action)
        toolbar.addAction(self.end_action)
        self.about_action = QAction("About", self, shortcut=QKeySequence("F1"))
        self.about_action.setToolTip("Version, models and where they run (F1)")
        self.about_action.triggered.connect(self.show_about)
        self.ready_info: dict = {}
        self.capture = CaptureActions(self, toolbar)
        self.capture.problem.connect(self.show_error)
        self.tools = KnowledgeTools(self, toolbar, self.left_tabs, self.suggestions)
        from assist.gui.settings_dialog import install_settings_action

        self.settings_action = install_settings_action(self, toolbar)
        toolbar.addAction(self.about_action)
        self.setAcceptDrops(True)
        self.session_label = QLabel()
        toolbar.addSeparator()
        # chat-feed conversations (one session each): which one the window shows; hidden until a second one comes
        self.conversation_picker = QComboBox()
        self.conversation_picker.setToolTip("Chat-feed conversations: each is its own session (Ctrl+PgDown: next)")
        self.conversation_picker.activated.connect(
            lambda index: self.conversation_requested.emit(str(self.conversation_picker.itemData(index))))
        self.picker_action = toolbar.addWidget(self.conversation_picker)
        self.picker_action.setVisible(False)
        toolbar.addWidget(self.session_label)

        self.model_status = QLabel("Model: loading…")
        self.load_progress = QProgressBar()
        self.load_progress.setRange(0, 100)
        self.load_progress.setMaximumWidth(180)
        self.device_label = QLabel("Device: —")
        self.journal_label = QLabel("Journal: —")
        self.agent_label = QLabel("Agent: not set")
        self.agent_label.setToolTip("Your name is recorded on every session: set it in Settings (Ctrl+,)")
        status = self.statusBar()
        status.addWidget(self.model_status)
        status.addWidget(self.load_progress)
        status.addPermanentWidget(self.agent_label)
        status.addPermanentWidget(self.journal_label)
        status.addPermanentWidget(self.device_label)
        self._update_role_button()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        # the wide layout from COMPACT_BELOW, or from where it fits without squeezing if that is wider
        wide_from = max(COMPACT_BELOW, self.splitter.minimumSizeHint().width() + 20)  # + the window's margins
        self._apply_layout(self.width() < wide_from)

    def _apply_layout(self, compact: bool) -> None:
        """The wide layout (conversation | reading, chart, next step, replies) or the half-screen one (a column:
        reading, conversation with Call / Emotion / Knowledge base tabs, next step, replies). Widgets move; nothing
        is rebuilt, so a session in progress is untouched."""
        if compact == self.compact:
            return
        self.compact = compact
        if compact:
            self.narrow_layout.addWidget(self.reading)
            self.narrow_layout.addWidget(self.left_tabs, 1)
            self.narrow_layout.addWidget(self.next_box)
            self.narrow_layout.addWidget(self.suggestion_box)
            self.left_tabs.insertTab(1, self.call_tab, "Call")
            self.left_tabs.insertTab(2, self.emotion_box, "Emotion")
            self.emotion_box.setTitle("")
            self.layouts.setCurrentWidget(self.narrow)
        else:
            for tab in (self.call_tab, self.emotion_box):
                index = self.left_tabs.indexOf(tab)
                if index >= 0:
                    self.left_tabs.removeTab(index)
            self.left_layout.insertWidget(0, self.call_panel)
            self.emotion_box.layout().insertWidget(0, self.reading)
            self.emotion_box.setTitle("Customer emotion")
            self.right_layout.addWidget(self.emotion_box, 1)  # the chart gives way; the replies always show in full
            self.right_layout.addWidget(self.next_box, 0)
            self.right_layout.addWidget(self.suggestion_box, 0)
            self.splitter.insertWidget(0, self.left_tabs)
            self.splitter.setSizes([560, 720])
            self.layouts.setCurrentWidget(self.splitter)
        if compact:
            self.call_tab.layout().insertWidget(0, self.call_panel)
        if not compact:
            self.emotion_box.setVisible(True)  # back from a tab page into the right-hand column
        self.next_box.setSizePolicy(QSizePolicy.Policy.Preferred,
                                    QSizePolicy.Policy.Maximum if compact else QSizePolicy.Policy.Preferred)
        self.next_step.set_compact(compact)
        self.suggestions.set_compact(compact)

    def _badges(self) -> tuple[QLabel, ...]:
        return (self.emotion_badge, self.sentiment_badge, self.intent_badge, self.escalation_badge)

    def _fix_geometry(self) -> None:
        """Sizes that do not change with each Insight: a badge or note that grew or shrank re-laid out and
        repainted the whole window on every customer message (about half the GUI time per message)."""
        from assist.domain import EKMAN_EMOTIONS, SENTIMENTS
        from assist.inference.labels import INTENTS

        bold = QFont(self.font())
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        longest = {
            self.emotion_badge: [f"emotion: {e} 100%" for e in EKMAN_EMOTIONS],
            self.sentiment_badge: [f"sentiment: {s} 100%" for s in SENTIMENTS],
            self.intent_badge: [f"intent: {i.replace('_', ' ')} 100%" for i in INTENTS],
            self.escalation_badge: [f"escalation {level} (0.00)" for level in ESCALATION_STYLE],
        }
        for badge, texts in longest.items():
            badge.setFixedWidth(max(metrics.horizontalAdvance(t) for t in texts) + 24)
            badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        two_lines = 2 * QFontMetrics(self.font()).lineSpacing() + 4
        for label in (self.escalation_reasons, self.notes):
            label.setFixedHeight(two_lines)
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

    def on_conversation_activity(self, name: str, unseen: int) -> None:
        """A chat-feed conversation appeared or got messages while another is shown (``unseen`` 0: the shown one)."""
        index = self.conversation_picker.findData(name)
        if index < 0:
            self.conversation_picker.addItem(name, name)
            index = self.conversation_picker.count() - 1
        label = name or "this window's chat"  # "": the session typed or pasted here, not from the feed
        self.conversation_picker.setItemText(index, f"{label} ({unseen} new)" if unseen else label)
        if unseen == 0:
            self.conversation_picker.setCurrentIndex(index)
        self.picker_action.setVisible(self.conversation_picker.count() > 1)

    def on_conversation_switched(self, name: str, session: Session, turns: list) -> None:
        """Show another conversation: its session, its messages and readings as they were."""
        self.set_session(session)
        for message, insight in turns:
            self.on_message(message)
            if insight is not None:
                self.on_insight(insight)
        self.on_conversation_activity(name, 0)

    def next_conversation(self) -> None:
        count = self.conversation_picker.count()
        if count > 1:
            index = (self.conversation_picker.currentIndex() + 1) % count
            self.conversation_requested.emit(str(self.conversation_picker.itemData(index)))

    def _shortcuts(self) -> None:
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.send)
        QShortcut(QKeySequence("Ctrl+T"), self, activated=self.toggle_role)
        QShortcut(QKeySequence("Ctrl+PgDown"), self, activated=self.next_conversation)
        QShortcut(QKeySequence("Ctrl+L"), self, activated=self.call_panel.toggle)
        QShortcut(QKeySequence("Ctrl+Shift+C"), self, activated=self.suggestions.copy_selected)
        QShortcut(QKeySequence("Ctrl+D"), self, activated=self.suggestions.dismiss_selected)
        for n in (1, 2, 3):
            QShortcut(QKeySequence(f"Alt+{n}"), self, activated=lambda n=n: self.suggestions.insert(n - 1))

    # ----- user actions
    def toggle_role(self) -> None:
        self.role = Role.AGENT if self.role is Role.CUSTOMER else Role.CUSTOMER
        self._update_role_button()

    def set_role(self, role: Role) -> None:
        self.role = role
        self._update_role_button()

    def _update_role_button(self) -> None:
        customer = self.role is Role.CUSTOMER
        self.role_button.setText("Customer ⇄" if customer else "Agent ⇄")
        self.role_button.setStyleSheet(f"QPushButton {{ background:{'#eeeeee' if customer else '#dcebff'}; padding:6px }}")

    def send(self) -> None:
        text = self.input.toPlainText()
        if not text.strip():
            self.show_error("The message is empty; nothing was sent.")
            return
        if self.session is None:
            self.show_error("Start a session first (Ctrl+N).")
            return
        problem = unfilled_placeholders(text)
        if problem:
            self.show_error(f"Fill in {', '.join(problem)} before sending (highlighted in the message box).")
            self.input.setFocus()
            return
        self.input.clear()
        self.send_requested.emit(self.role.value, text)
        self._settle_insert(text)
        self.set_role(Role.CUSTOMER)  # a reply sent is the agent's; the next pasted or typed message the customer's

    def _note_insert(self, suggestion_id: str, action: str) -> None:
        if action == "inserted":
            self.pending_insert = (suggestion_id, self.input.toPlainText())

    def _settle_insert(self, sent: str) -> None:
        """An inserted reply counts as used only once it is sent: as it was ("sent"), or edited but still mostly
        the reply ("edited_sent"); rewritten or deleted, it is not counted."""
        if self.pending_insert is None:
            return
        suggestion_id, inserted = self.pending_insert
        self.pending_insert = None
        action = sent_action(inserted, sent)
        if action:
            self.feedback_given.emit(suggestion_id, action)

    def insert_reply(self, text: str) -> None:
        self.set_role(Role.AGENT)
        self.input.setPlainText(text)
        self.input.setFocus()

    # ----- results from the worker
    def set_session(self, session: Session | None) -> None:
        if session is not None and (self.session is None or session.id != self.session.id):
            self.clear_reading()  # a new customer: nothing of the last one stays on screen or can be inserted
        self.session = session
        if session is not None:
            self.conversation.clear_conversation()
            self.timeline.clear()
            self.insights = []
            self.messages = {}
            self.bubbles = []
            redaction = "PII redaction on" if session.redaction_enabled else "PII redaction OFF"
            self.session_label.setText(f"  Session {session.id[:8]} · {redaction}")
        else:
            self.session_label.setText("  No session")
        self.end_action.setEnabled(session is not None)
        self.start_action.setEnabled(self.model_ready)

    def clear_reading(self) -> None:
        """Back to an empty panel: badges, bars, reasons, notes, suggestions, draft, checklist, the message box
        (a reply meant for the previous customer) and the speaker (the next message is the customer's)."""
        for badge, text in ((self.emotion_badge, "emotion —"), (self.sentiment_badge, "sentiment —"),
                            (self.intent_badge, "intent —"), (self.escalation_badge, "escalation —")):
            badge.setText(text)
            badge.setToolTip("")
        self.escalation_badge.setStyleSheet(_BADGE.format(bg="#546e7a"))
        self.escalation_reasons.setText("")
        self.notes.setText("")
        self.bars.set_distribution({})
        self.suggestions.set_suggestions(())
        self.suggestions.clear_draft()
        self.next_step.show_checklist(None)
        self.input.clear()
        self.pending_insert = None
        self.set_role(Role.CUSTOMER)

    def on_message(self, message: ChatMessage) -> None:
        self.messages[message.id] = message
        if message.kind is EventKind.SCREENSHOT:
            return  # shown with its thumbnail by on_screenshot
        if message.role is Role.AGENT:  # customer bubbles are drawn with their insight
            self.conversation.add_message(message.role, message.text, spoken_at=_spoken_at(message),
                                          message_id=message.id)
            self.bubbles.append(("message", message.id))

    def on_insight(self, insight: Insight) -> None:
        self.insights.append(insight)
        message = self.messages.get(insight.message_id)
        spoken_at = _spoken_at(message)
        self.conversation.add_message(Role.CUSTOMER, message.text if message else "", insight, spoken_at=spoken_at,
                                      message_id=insight.message_id)
        self.bubbles.append(("message", insight.message_id))
        if spoken_at is not None:
            self.call_panel.clear_partial()
        self.timeline.add_point(insight.emotion.probabilities)
        self._show_reading(insight)
        self.insight_shown.emit(insight)

    def _show_reading(self, insight: Insight) -> None:
        """The panels (badges, why, bars, suggestions, notes) for a customer turn's Insight."""
        emotion = insight.emotion
        self.emotion_badge.setText(f"emotion: {emotion.label} {emotion.confidence:.0%}")
        drivers = insight.contributions.get("emotion", {})
        self.emotion_badge.setToolTip("What moved this estimate: " + ", ".join(
            f"{name} {value:+.2f}" for name, value in sorted(drivers.items(), key=lambda kv: -kv[1]))
            if drivers else "Estimated from the message alone")
        self.sentiment_badge.setText(f"sentiment: {insight.sentiment.label} {insight.sentiment.confidence:.0%}")
        intent = insight.goal  # the conversation's intent; the tooltip says this turn's own when it differs
        self.intent_badge.setText(f"intent: {intent_label(intent).removeprefix('intent ')} {intent.confidence:.0%}")
        tips = [f"Best guess: {intent.label.replace('_', ' ')} ({intent.confidence:.0%})"
                if intent.confidence < INTENT_UNCLEAR_BELOW else "",
                f"This message alone: {insight.intent.label.replace('_', ' ')} ({insight.intent.confidence:.0%})"
                if insight.intent.label != intent.label else ""]
        self.intent_badge.setToolTip("\n".join(t for t in tips if t))
        level = insight.escalation.level.value
        self.escalation_badge.setText(f"escalation {level} ({insight.escalation.score:.2f})")
        self.escalation_badge.setStyleSheet(_BADGE.format(bg=ESCALATION_STYLE[level]))
        reasons = ", ".join(insight.escalation.reasons)
        self.escalation_reasons.setText(f"Why: {reasons}" if reasons else "")
        self.bars.set_distribution(emotion.probabilities)
        self.suggestions.set_suggestions(insight.suggestions)
        self.tools.on_insight_shown(insight.message_id)
        self.notes.setText(" ".join(insight.notes))

    def on_role_corrected(self, message: ChatMessage, insight: Insight | None) -> None:
        """The worker read a message again after the agent corrected its speaker: draw the conversation again and,
        when the corrected turn is the customer's latest, show its reading."""
        self.messages[message.id] = message
        self.insights = [i for i in self.insights if i.message_id != message.id]
        if insight is not None:
            self.insights.append(insight)
        by_message = {i.message_id: i for i in self.insights}
        self.conversation.clear_conversation()
        self.timeline.clear()
        latest: Insight | None = None
        for kind, item in self.bubbles:
            if kind == "screenshot":
                self.conversation.add_screenshot(str(getattr(item, "path", "")), getattr(item, "entities", []),
                                                 getattr(item, "note", ""))
                continue
            shown = self.messages.get(str(item))
            if shown is None:
                continue
            reading = by_message.get(shown.id) if shown.role is Role.CUSTOMER else None
            self.conversation.add_message(shown.role, shown.text, reading, spoken_at=_spoken_at(shown),
                                          message_id=shown.id)
            if reading is not None:
                self.timeline.add_point(reading.emotion.probabilities)
                latest = reading
        if latest is not None:
            self._show_reading(latest)
        self.on_status(f"The message is now the {message.role.value}'s; the correction is in the journal.")

    def on_screenshot(self, result: object) -> None:
        """A screenshot was read: show its thumbnail and what was found on it."""
        self.conversation.add_screenshot(str(getattr(result, "path", "")), getattr(result, "entities", []),
                                         getattr(result, "note", ""))
        self.bubbles.append(("screenshot", result))

    def on_draft(self, update: object) -> None:
        """The local language model's draft for a customer message, as it streams in."""
        self.tools.on_draft(update)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.tools.shutdown()  # a running KB import is cancelled and waited for
        review, settings = getattr(self, "review_panel", None), getattr(self, "settings_dialog", None)
        if review is not None:
            review.shutdown()  # closes its read-only journal connections, stops a playing call
        if settings is not None:
            settings.close()  # stops a running model check
        super().closeEvent(event)

    def on_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        mime = event.mimeData()
        if mime.hasUrls():
            self.capture.drop_paths([url.toLocalFile() for url in mime.urls() if url.isLocalFile()])
        elif mime.hasImage():
            from assist.gui.capture_actions import png_bytes

            self.capture.image_bytes.emit(png_bytes(mime.imageData()))
        event.acceptProposedAction()

    def on_session_ended(self, session_id: str) -> None:
        self.set_session(None)

    def on_journal_error(self, message: str) -> None:
        self.show_error(f"Journal: {message}")

    def on_progress(self, fraction: float, message: str) -> None:
        self.load_progress.setValue(int(fraction * 100))
        self.model_status.setText(f"Model: {message}…")

    def show_about(self) -> object:
        from assist.gui.about import show_about

        return show_about(self, self.ready_info)

    def on_ready(self, info: dict) -> None:
        self.model_ready = True
        self.ready_info = info
        self.load_progress.hide()
        seconds = sum(info.get("load_seconds", {}).values())
        self.model_status.setText("Model: ready")  # the version in the tooltip: the status bar fits half a screen
        self.model_status.setToolTip(f"{info['versions'].get('text', '?')}, loaded in {seconds:.1f} s")
        provider = str(info.get("provider", ""))
        runtime = "onnxruntime" if "ExecutionProvider" in provider else "PyTorch"
        self.device_label.setText(f"Device: {info['device'].upper()} ({runtime})")
        self.device_label.setToolTip(f"Text model runtime: {provider or 'unknown'}")
        if info.get("note"):
            self.show_error(f"The fast ONNX text model is not used ({info['note']}); running the slower PyTorch model.")
        for note in info.get("notes", []):
            self.show_error(note)
        self.tools.on_ready(info)
        self.start_action.setEnabled(True)

    def on_load_failed(self, message: str) -> None:
        self.load_progress.hide()
        self.model_status.setText("Model: not available")
        self.show_error(f"The model could not be loaded: {message}")

    def set_agent(self, name: str, team: str = "") -> None:
        """Who uses the app, in the status bar (the worker records the name on every session)."""
        self.agent_name, self.team = name, team
        self.agent_label.setText(f"Agent: {name}" + (f" · {team}" if team else "") if name else "Agent: not set")

    def set_journal_status(self, text: str) -> None:
        from pathlib import PurePath

        self.journal_label.setText(f"Journal: {PurePath(text).name or text}")  # the file's name; its path on hover
        self.journal_label.setToolTip(text)

    def show_error(self, message: str) -> None:
        log.warning("shown to user: %s", message)
        self.banner.setText(f"⚠ {message}  (click to hide)")
        self.banner.show()


EDITED_KEEPS = 0.5  # share of the inserted reply's words still in the message sent for it to count as edited


def sent_action(inserted: str, sent: str) -> str:
    """"sent" when the message is the inserted reply, "edited_sent" when it keeps at least half of its words,
    "" when the agent rewrote it."""
    if " ".join(inserted.split()) == " ".join(sent.split()):
        return "sent"
    words = [w.lower().strip(".,!?;:") for w in inserted.split()]
    kept = set(w.lower().strip(".,!?;:") for w in sent.split())
    if words and sum(w in kept for w in words) / len(words) >= EDITED_KEEPS:
        return "edited_sent"
    return ""


def _spoken_at(message: ChatMessage | None) -> float | None:
    """Seconds into the call for a spoken turn; None for typed, imported or fed text."""
    if message is None or message.kind is not EventKind.UTTERANCE:
        return None
    return float(message.meta.get("start_s", 0.0))
