"""The window with the real worker thread and the real model (offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from assist.domain import Role
from assist.gui.main_window import MainWindow
from assist.gui.worker import PipelineWorker, WorkerThread
from assist.pipeline.controller import SessionController

pytestmark = pytest.mark.gui


@pytest.fixture
def app_parts(qtbot, engines, recording_journal):
    window = MainWindow()
    qtbot.addWidget(window)
    worker = PipelineWorker(load_engines=lambda state: engines,
                            make_controller=lambda e: SessionController(e, journal=recording_journal))
    from assist.app.gui_main import connect

    connect(window, worker)
    thread = WorkerThread(worker)
    with qtbot.waitSignal(worker.ready, timeout=30000):
        thread.start()
    with qtbot.waitSignal(worker.session_started, timeout=10000):
        window.start_action.trigger()
    yield window, worker, recording_journal
    assert thread.stop(), "worker thread did not stop"


def send(qtbot, window, worker, role, text, signal="insight_ready"):
    window.set_role(role)
    window.input.setPlainText(text)
    with qtbot.waitSignal(getattr(worker, signal), timeout=20000) as blocker:
        qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    return blocker.args


def test_customer_message_fills_every_panel(qtbot, app_parts):
    window, worker, journal = app_parts
    (insight,) = send(qtbot, window, worker, Role.CUSTOMER,
                      "This is the third time my package is late, I want my money back NOW")
    assert window.emotion_badge.text().startswith("anger")
    assert "refund" in window.intent_badge.text() or "complaint" in window.intent_badge.text()
    assert window.escalation_badge.text().startswith("escalation")
    assert window.suggestions.list.count() == 3
    assert window.bars.probabilities["anger"] == insight.emotion.probabilities["anger"]
    assert len(window.timeline.points) == 1
    assert "third time" in window.conversation.toPlainText()
    assert window.device_label.text() in {"Device: CPU", "Device: CUDA"}
    assert window.model_status.text().startswith("Model: ready")


def test_agent_message_and_role_toggle(qtbot, app_parts):
    window, worker, journal = app_parts
    assert window.role is Role.CUSTOMER
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert window.role is Role.AGENT
    window.input.setPlainText("Hello! How can I help?")
    with qtbot.waitSignal(worker.message_recorded, timeout=10000):
        qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "How can I help" in window.conversation.toPlainText()
    assert window.suggestions.list.count() == 0


def test_suggestion_actions_are_logged(qtbot, app_parts):
    window, worker, journal = app_parts
    (insight,) = send(qtbot, window, worker, Role.CUSTOMER, "I forgot my password")
    first, second = insight.suggestions[0], insight.suggestions[1]
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)  # insert reply 1
    assert window.input.toPlainText() == first.text
    assert window.role is Role.AGENT
    window.suggestions.list.setCurrentRow(1)
    qtbot.keyClick(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == second.text
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)  # dismiss the selected one
    assert window.suggestions.list.count() == 2
    qtbot.waitUntil(lambda: len(journal.named("record_feedback")) == 3, timeout=5000)
    actions = [(fb.suggestion_id, fb.action.value) for (fb,) in journal.named("record_feedback")]
    assert actions == [(first.id, "inserted"), (second.id, "copied"), (second.id, "dismissed")]


def test_bad_input_shows_a_message_and_app_keeps_working(qtbot, app_parts):
    window, worker, journal = app_parts
    window.input.setPlainText("    ")
    window.send()
    assert window.banner.isVisible() and "empty" in window.banner.text()
    with qtbot.waitSignal(worker.error, timeout=10000) as blocker:
        worker.request_submit.emit("customer", "\x00\x01\x02\x03" * 100)
    assert "binary" in blocker.args[0]
    assert "binary" in window.banner.text()
    send(qtbot, window, worker, Role.CUSTOMER, "ok, where is my order then?")
    assert window.suggestions.list.count() == 3


def test_emoji_and_huge_messages(qtbot, app_parts):
    window, worker, journal = app_parts
    send(qtbot, window, worker, Role.CUSTOMER, "😡😡😡😡")
    assert "uncertain" in window.notes.text()
    send(qtbot, window, worker, Role.CUSTOMER, "my refund is late " * 60_000)
    assert "first 4,000 characters" in window.notes.text()
    assert len(window.timeline.points) == 2


def test_model_load_failure_is_shown(qtbot):
    from assist.inference.errors import ModelUnavailable

    def failing_loader(state):
        raise ModelUnavailable("The text model is missing: models/text/config.json not found.")

    window = MainWindow()
    qtbot.addWidget(window)
    worker = PipelineWorker(load_engines=failing_loader, make_controller=lambda e: None)
    from assist.app.gui_main import connect

    connect(window, worker)
    thread = WorkerThread(worker)
    with qtbot.waitSignal(worker.load_failed, timeout=10000):
        thread.start()
    assert "could not be loaded" in window.banner.text()
    assert window.model_status.text() == "Model: not available"
    assert not window.start_action.isEnabled()
    window.input.setPlainText("hello")
    window.send()
    assert "Start a session" in window.banner.text()
    assert thread.stop()


def test_window_is_usable_while_the_model_loads(qtbot, engines):
    import threading

    release = threading.Event()

    def slow_loader(state):
        state.set_progress(0.3, "loading text model")
        release.wait(10)
        return engines

    window = MainWindow()
    qtbot.addWidget(window)
    worker = PipelineWorker(load_engines=slow_loader, make_controller=lambda e: SessionController(e))
    from assist.app.gui_main import connect

    connect(window, worker)
    thread = WorkerThread(worker)
    thread.start()
    qtbot.waitUntil(lambda: window.load_progress.value() == 30, timeout=5000)
    assert "loading" in window.model_status.text()
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # the GUI still responds
    assert window.role is Role.AGENT
    with qtbot.waitSignal(worker.ready, timeout=15000):
        release.set()
    assert thread.stop()
