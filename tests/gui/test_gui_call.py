"""The call panel with the real worker thread: a replayed call, a live PulseAudio call, device failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from assist.app.gui_main import connect
from assist.gui.main_window import MainWindow
from assist.gui.worker import PipelineWorker, WorkerThread
from assist.pipeline.call import CallRequest
from assist.pipeline.controller import SessionController
from support.pulse import NullSink, missing_tools, say

pytestmark = [pytest.mark.gui, pytest.mark.slow]

DEMO_CALL = Path(__file__).resolve().parents[2] / "resources" / "demo" / "call.wav"


@pytest.fixture(scope="module")
def call_engines():
    from assist.pipeline.engines import EngineConfig, load_engines

    return load_engines(EngineConfig(voice=True))


@pytest.fixture
def call_app(qtbot, request, call_engines, recording_journal, tmp_path):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    worker = PipelineWorker(load_engines=lambda state: call_engines,
                            make_controller=lambda e: SessionController(e, journal=recording_journal))
    worker.data_dir = tmp_path / "sessions"  # screenshots and recordings (default: beside the user's journal)
    connect(window, worker)  # the app's own wiring, call panel and capture actions included
    thread = WorkerThread(worker)
    request.addfinalizer(lambda: thread.stop())
    thread.start()
    qtbot.waitUntil(lambda: window.model_ready, timeout=30000)
    return window, worker, recording_journal


def test_a_replayed_call_shows_transcribed_turns_with_insights(qtbot, call_app):
    window, worker, journal = call_app
    worker.request_call_start.emit(CallRequest(replay=str(DEMO_CALL), speed=6.0))
    qtbot.waitUntil(lambda: window.call_panel.running, timeout=10000)
    assert window.call_panel.button.text() == "Stop call"
    qtbot.waitUntil(lambda: not window.call_panel.running, timeout=60000)  # the file played to its end
    assert len(window.insights) == 4 and window.conversation.count == 7
    text = window.conversation.toPlainText()
    assert "voice 0:" in text and "money back" in text.lower()
    assert "Call ended" in window.call_panel.health.text() and "0 overflows" in window.call_panel.health.text()
    assert window.session is not None and window.session.source == "call"
    assert len(journal.named("record_capture_stats")) == 1


def test_stop_call_with_ctrl_l_keeps_what_was_heard(qtbot, call_app):
    window, worker, journal = call_app
    worker.request_call_start.emit(CallRequest(replay=str(DEMO_CALL), speed=1.0))
    qtbot.waitUntil(lambda: window.call_panel.running, timeout=10000)
    qtbot.wait(6500)  # the customer's first sentence (~4.5 s) has been said
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.call_panel.running, timeout=20000)
    assert len(window.insights) >= 1
    assert "winter jacket" in window.conversation.toPlainText()


def test_a_call_without_any_usable_device_says_so_and_the_app_keeps_working(qtbot, call_app):
    window, worker, journal = call_app
    with qtbot.waitSignal(worker.error, timeout=10000) as blocker:
        worker.request_call_start.emit(CallRequest(agent_device="portaudio:no such mic",
                                                   customer_device="bogus:device"))
    assert "audio" in blocker.args[0].lower() or "device" in blocker.args[0].lower()
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=5000)
    assert not window.call_panel.running
    worker.request_call_start.emit(CallRequest(replay=str(DEMO_CALL), speed=12.0))  # and a call still works
    qtbot.waitUntil(lambda: window.call_panel.running, timeout=10000)
    qtbot.waitUntil(lambda: not window.call_panel.running, timeout=60000)
    assert len(window.insights) == 4


def test_a_live_call_from_the_pulseaudio_monitor_shows_partials_and_levels(qtbot, call_app, tmp_path):
    if missing_tools():
        pytest.skip(f"PulseAudio test tools missing: {missing_tools()}")
    window, worker, journal = call_app
    wav = say("Hello, I have been waiting for my refund for three weeks and nobody answers my emails.",
              tmp_path / "c.wav")
    with NullSink() as sink:
        window.call_panel.refresh_devices()
        picker = window.call_panel.pickers["customer"]
        picker.setCurrentIndex(picker.findData(f"pulse:{sink.monitor}"))
        window.call_panel.pickers["agent"].setCurrentIndex(0)  # (none)
        partials = []
        worker.partial.connect(window.call_panel.on_partial)
        qtbot.mouseClick(window.call_panel.button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.call_panel.running, timeout=10000)
        player = sink.play(wav)
        qtbot.waitUntil(lambda: bool(window.call_panel.partial.text()) or bool(window.insights), timeout=15000)
        partials.append(window.call_panel.partial.text())
        qtbot.waitUntil(lambda: player.poll() is not None, timeout=20000)
        qtbot.waitUntil(lambda: len(window.insights) == 1, timeout=15000)
        assert window.call_panel.meters["customer"].value() > -60 or window.insights
        qtbot.mouseClick(window.call_panel.button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not window.call_panel.running, timeout=10000)
    assert "refund" in window.conversation.toPlainText().lower()
    assert partials[0] == "" or partials[0].startswith("Customer is saying:")


def test_recording_is_off_by_default_and_visible_when_on(qtbot, call_app, tmp_path):
    window, worker, journal = call_app
    panel = window.call_panel
    assert not panel.record.isChecked() and not panel.request().record
    worker.request_call_start.emit(CallRequest(replay=str(DEMO_CALL), speed=12.0, record=True))
    qtbot.waitUntil(lambda: panel.running, timeout=10000)
    assert panel.rec_indicator.isVisibleTo(window) and not panel.record.isEnabled()
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    assert not panel.rec_indicator.isVisibleTo(window) and "recorded" in panel.health.text()
    files = sorted(p.name for p in (tmp_path / "sessions").rglob("*.ogg"))
    assert files == ["call-agent.ogg", "call-customer.ogg"]
