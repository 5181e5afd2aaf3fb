"""The pipeline's long-lived worker: a QObject moved to a QThread.

The GUI talks to it only through signals (queued across threads); it never touches widgets.
Every failure comes back as ``error`` (or ``load_failed``) with words a user understands.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QMetaObject, QObject, Qt, QThread, Signal, Slot

from assist import seconds_since_start
from assist.domain import ProgressState
from assist.gui.worker_capture import CaptureSlots

log = logging.getLogger(__name__)


class PipelineWorker(QObject, CaptureSlots):
    # results and state, worker -> GUI
    progress = Signal(float, str)
    ready = Signal(object)  # dict: device, versions, load_seconds
    load_failed = Signal(str)
    session_started = Signal(object)  # Session
    session_ended = Signal(str)
    message_recorded = Signal(object)  # ChatMessage
    insight_ready = Signal(object)  # Insight
    error = Signal(str)
    # requests, GUI -> worker (connected to the slots below; queued because we live in another thread)
    request_load = Signal()
    request_start = Signal(str)
    request_start_default = Signal()
    request_submit = Signal(str, str)
    request_feedback = Signal(str, str)
    request_end = Signal()
    # live calls
    request_call_start = Signal(object)  # CallRequest
    request_call_stop = Signal()
    call_started = Signal(object)  # dict: channel -> device name
    call_stopped = Signal(object)  # dict: capture statistics per channel
    partial = Signal(object)  # assist.pipeline.live.Partial
    level = Signal(str, float)  # channel, dBFS
    call_stats = Signal(object)  # dict: capture statistics per channel, about once a second during a call
    # screenshots, transcript import, live chat feeds
    request_screenshot = Signal(object)  # None = the whole screen, or (left, top, width, height)
    request_image_file = Signal(str)
    request_image_bytes = Signal(bytes)
    request_import = Signal(str)
    request_feed_socket = Signal(bool)  # on / off
    request_follow_file = Signal(str)  # "" = stop following
    screenshot_added = Signal(object)  # assist.pipeline.screens.ScreenshotResult
    screen_grabbed = Signal()  # the screen was captured (or could not be): the window may show itself again
    status = Signal(str)  # a line for the status bar (import progress, feed address)
    checklist_changed = Signal(object)  # assist.replies.procedures.tracker.Checklist or None, after every turn
    draft_update = Signal(object)  # assist.pipeline.drafts.DraftUpdate, emitted from the drafting thread
    request_reload_macros = Signal()
    request_agent = Signal(str, str)  # name, team changed (Settings, first start): the next sessions record them
    request_correct_role = Signal(str, str)  # message id, role: the agent corrected who said a message
    request_switch_conversation = Signal(str)  # show another chat-feed conversation (its own session)
    conversation_activity = Signal(str, int)  # a conversation not shown got messages: its id, how many unseen
    conversation_switched = Signal(str, object, object)  # conversation id, its Session, [(ChatMessage, Insight)]
    role_corrected = Signal(object, object)  # the corrected ChatMessage, its new Insight (None for the agent's)

    def __init__(self, load_engines: Callable[[ProgressState], Any],
                 make_controller: Callable[[Any], Any],
                 load_later: Callable[[Any], list[str]] | None = None) -> None:
        super().__init__()
        self._load_engines = load_engines
        self._make_controller = make_controller
        self._load_later = load_later  # the call models, on a thread of their own once the window is ready
        self.later_thread: threading.Thread | None = None
        self.controller: Any = None
        self.request_load.connect(self.load)
        self.request_start.connect(self.start_session)
        self.request_start_default.connect(self.start_session)
        self.request_submit.connect(self.submit)
        self.request_feedback.connect(self.feedback)
        self.request_end.connect(self.end_session)
        self.request_reload_macros.connect(self.reload_macros)
        self.request_agent.connect(self.set_agent)
        self.request_correct_role.connect(self.correct_role)
        self.request_switch_conversation.connect(self.switch_conversation)
        self.engines: Any = None
        self.conversations: dict[str, Any] = {}  # chat-feed conversation id -> its controller (not the shown one)
        self.current_conversation = ""  # the conversation the window shows ("" before any feed names one)
        self.unseen: dict[str, int] = {}
        self.agent = ""
        self.team = ""
        self._init_capture()

    @Slot()
    def load(self) -> None:
        try:
            engines = self._load_engines(ProgressState(self.progress.emit))
            self.controller = self._make_controller(engines)
            self.engines = engines
            if self.agent:
                self.controller.agent, self.controller.team = self.agent, self.team
        except Exception as exc:
            log.error("model loading failed: %s", exc)
            self.load_failed.emit(str(exc))
            return
        # started before ready is said: a call asked for on ready (the demo) waits for it, never misses it
        if self._load_later is not None:
            self.later_thread = threading.Thread(target=self._finish_loading, args=(engines,), daemon=True,
                                                 name="assist-call-models")
            self.later_thread.start()
        self.ready.emit({"device": engines.device, "versions": engines.versions, "kb": getattr(engines, "kb", None),
                         "macros": getattr(engines, "macros", None),
                         "llm": engines.llm.describe() if getattr(engines, "llm", None) is not None else "",
                         "load_seconds": engines.load_seconds,
                         "provider": getattr(engines, "provider", engines.device),
                         "note": getattr(engines.text, "fallback_reason", ""),
                         "notes": list(getattr(engines, "notes", []))})

    def _finish_loading(self, engines: Any) -> None:
        """Voice and speech models for calls, while sessions already run (a call started meanwhile waits for them
        in open_call's check); what could not be loaded is said in the window."""
        assert self._load_later is not None
        try:
            notes = self._load_later(engines)
        except Exception as exc:  # never kill the app for the call models: say it
            log.error("call models failed to load: %s", traceback.format_exc())
            notes = [f"The call models could not be loaded ({exc}); chat works, calls do not."]
        for note in notes:
            self.error.emit(note)
        log.info("startup: call models ready %.2f s after launch", seconds_since_start())

    # --- chat-feed conversations: each is its own session; the window shows one at a time ---------------------

    def route(self, message: Any) -> Any:
        """The controller of a feed message's conversation: the shown one for an unnamed conversation or the shown
        conversation; a session already showing messages of no named conversation adopts the first name."""
        name = getattr(message, "conversation", "")
        if not name or name == self.current_conversation:
            return self.controller
        if name in self.conversations:
            return self.conversations[name]
        if not self.current_conversation and not getattr(self.controller, "history", None):
            self.current_conversation = name  # the empty window takes the first conversation
            self.conversation_activity.emit(name, 0)  # 0: the one shown
            return self.controller
        controller = self._make_controller(self.engines)
        controller.agent, controller.team = self.agent, self.team
        self.conversations[name] = controller
        if not self.current_conversation:  # the window's own chat is listed too, so the agent can come back to it
            self.conversation_activity.emit("", 0)
        return controller

    def _feed_turn(self, turn: Any) -> None:
        """A fed turn: shown when it is the shown session's, else counted for the conversation picker."""
        shown = self.controller.session
        if shown is not None and turn.message.session_id == shown.id:
            self._emit_turn(turn)
            return
        name = next((n for n, c in self.conversations.items()
                     if c.session is not None and c.session.id == turn.message.session_id), None)
        if name is not None:
            self.unseen[name] = self.unseen.get(name, 0) + 1
            self.conversation_activity.emit(name, self.unseen[name])

    @Slot(str)
    def switch_conversation(self, name: str) -> None:
        """Show conversation ``name``: the shown one is kept with the others, ``name``'s history goes to the window."""
        if not self._check_ready() or name == self.current_conversation or name not in self.conversations:
            return
        self.conversations[self.current_conversation] = self.controller  # "" : the window's own chat
        self.controller = self.conversations.pop(name)
        self.current_conversation = name
        self.unseen.pop(name, None)
        turns = [(t.message, t.insight) for t in self.controller.history]
        self.conversation_switched.emit(name, self.controller.session, turns)
        if getattr(self.controller, "procedures", None) is not None:
            self.checklist_changed.emit(self.controller.checklist())

    @Slot(str, str)
    def correct_role(self, message_id: str, role: str) -> None:
        """Read a message again as said by ``role``; the journal records the correction."""
        if not self._check_ready():
            return
        try:
            turn = self.controller.correct_role(message_id, role)
        except Exception as exc:  # SessionError, BadInput: words for the agent; the app goes on
            if exc.__class__.__name__ not in {"SessionError", "BadInput"}:
                log.error("speaker correction failed: %s", traceback.format_exc())
            self.error.emit(str(exc))
            return
        self.role_corrected.emit(turn.message, turn.insight)

    @Slot(str, str)
    def set_agent(self, name: str, team: str = "") -> None:
        """Who uses the app from now on (a session already running keeps the name it started with)."""
        self.agent, self.team = name, team
        for controller in [self.controller, *self.conversations.values()]:
            if controller is not None:
                controller.agent, controller.team = name, team

    @Slot()
    @Slot(str)
    def start_session(self, agent: str = "") -> None:
        if self._check_ready():
            self.session_started.emit(self.controller.start_session(agent))
            if getattr(self.controller, "procedures", None) is not None:
                self.checklist_changed.emit(None)

    @Slot(str, str)
    def submit(self, role: str, text: str) -> None:
        if not self._check_ready():
            return
        try:
            turn = self.controller.submit(role, text)
        except Exception as exc:  # BadInput, SessionError, or a model failure: report, keep running
            if not _is_user_error(exc):
                log.error("analysis failed: %s", traceback.format_exc())
            self.error.emit(str(exc) or exc.__class__.__name__)
            return
        self._emit_turn(turn)

    @Slot(str, str)
    def feedback(self, suggestion_id: str, action: str) -> None:
        if self._check_ready():
            try:
                self.controller.feedback(suggestion_id, action)
            except Exception as exc:
                self.error.emit(str(exc))

    @Slot()
    def reload_macros(self) -> None:
        """The reply bank was edited in the Macros dialog: rank its current macros from the next message on."""
        replies = getattr(self.controller, "replies", None)
        if replies is not None and self.controller.engines.macros is not None:
            replies.reload(self.controller.engines.macros)

    @Slot()
    def end_session(self) -> None:
        self.stop_call()
        if self.controller is not None and self.controller.session is not None:
            session_id = self.controller.session.id
            self.controller.end_session()
            self.session_ended.emit(session_id)

    @Slot()
    def detach(self) -> None:
        """Move back to the GUI thread before ours stops (runs in the worker thread)."""
        app = QCoreApplication.instance()
        if app is not None:
            self.moveToThread(app.thread())

    def _check_ready(self) -> bool:
        if self.controller is None:
            self.error.emit("The model is still loading; try again in a moment.")
            return False
        return True


def _is_user_error(exc: Exception) -> bool:
    return exc.__class__.__name__ in {"BadInput", "SessionError"}


SWITCH_INTERVAL_S = 0.001


class WorkerThread:
    """Owns the QThread and the worker; stops cleanly (quit, wait with a timeout)."""

    def __init__(self, worker: PipelineWorker) -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName("assist-pipeline")
        worker.moveToThread(self.thread)

    def start(self) -> None:
        # The GUI thread gives up the GIL in every Qt call and must win it back from the worker's Python
        # code on return; with CPython's default 5 ms switch interval each such wait can cost 5 ms, and
        # one Insight's repaint makes dozens. 1 ms measured here: GUI stall max 24 -> 18 ms while 200
        # messages are analysed back to back (benchmarks/bench_text.py).
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self.thread.start()
        self.worker.request_load.emit()

    def stop(self, timeout_ms: int = 10000) -> bool:
        if not self.thread.isRunning():
            return True
        QMetaObject.invokeMethod(self.worker, "shutdown", Qt.ConnectionType.BlockingQueuedConnection)
        QMetaObject.invokeMethod(self.worker, "detach", Qt.ConnectionType.BlockingQueuedConnection)
        self.thread.quit()
        return self.thread.wait(timeout_ms)


class ErrorBridge(QObject):
    """Carries error messages from any thread (e.g. the journal's writer) to the GUI thread."""

    error = Signal(str)
