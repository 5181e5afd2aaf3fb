"""Screenshots, imported transcripts and live chat feeds inside a session (pipeline + the window)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from assist.inference.screen.synthetic import render_lines

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fused_engines():
    from assist.pipeline.engines import EngineConfig, load_engines

    return load_engines(EngineConfig(voice=True))


def write_png(path: Path, lines: list[str]) -> Path:
    cv2.imwrite(str(path), render_lines(lines, width=1000))
    return path


def test_a_screenshot_is_stored_read_redacted_and_joins_the_next_fused_turn(fused_engines, tmp_path):
    from assist.domain import EventKind
    from assist.pipeline.controller import SessionController
    from assist.pipeline.screens import ScreenshotService
    from assist.storage.journal import Journal
    from assist.storage.reader import JournalReader

    journal = Journal(tmp_path / "j.sqlite3")
    controller = SessionController(fused_engines, journal)
    session = controller.start_session()
    service = ScreenshotService(controller, tmp_path / "sessions")
    shot = write_png(tmp_path / "shot.png", ["Order #A12345 Status: Delayed",
                                             "Customer email: dana.whitfield@example.com", "Total: $59.99"])
    result = service.add_file(shot)
    assert result.path.parent == tmp_path / "sessions" / session.id and result.path.is_file()
    assert stat.S_IMODE(os.stat(result.path).st_mode) == 0o600
    kinds = {e.kind for e in result.entities}
    assert {"order_id", "status"} <= kinds, result.entities
    assert controller.screen is not None
    from assist.capture.audio import read_wav
    from assist.capture.resample import to_16k_mono

    speech = to_16k_mono(*read_wav("/usr/share/pocketsphinx/test/data/librivox/"
                                   "sense_and_sensibility_01_austen_64kb-0880.wav"))
    turn = controller.submit("customer", "Why is my order still delayed?", kind=EventKind.UTTERANCE,
                             voice=(speech, 16000))
    assert "screen" in turn.insight.contributions["emotion"]
    controller.end_session()
    assert journal.close()
    with JournalReader(tmp_path / "j.sqlite3") as reader:
        events = reader.events(session.id)
    screenshot = next(e for e in events if e["kind"] == "screenshot")
    assert "Delayed" in screenshot["text"] and "dana.whitfield@example.com" not in screenshot["text"]
    assert "example.com" not in json.dumps(screenshot["meta"])  # entities in meta are redacted too
    assert screenshot["meta"]["path"] == str(result.path) and screenshot["meta"]["sha256"]


def test_bad_images_are_refused_in_words_and_the_session_goes_on(fused_engines, tmp_path):
    from assist.capture.errors import ScreenCaptureError
    from assist.pipeline.controller import SessionController
    from assist.pipeline.screens import ScreenshotService

    controller = SessionController(fused_engines)
    controller.start_session()
    service = ScreenshotService(controller, tmp_path)
    binary = tmp_path / "notes.png"
    binary.write_bytes(os.urandom(4096))
    with pytest.raises(ScreenCaptureError):
        service.add_file(binary)
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((400, 600, 3), 255, np.uint8))
    result = service.add_file(blank)
    assert result.entities == [] and "no text" in result.note
    assert controller.submit("customer", "hello").insight is not None


def test_a_transcript_file_is_imported_with_its_problems_listed(fused_engines, tmp_path):
    from assist.pipeline.controller import SessionController
    from assist.pipeline.feeds import import_transcript

    path = tmp_path / "chat.txt"
    path.write_text("Customer: my parcel is late again\nAgent: sorry, let me check\nCustomer: I want a refund\n"
                    "   and I want it today\n", encoding="utf-8")
    controller = SessionController(fused_engines)
    summary = import_transcript(controller, path)
    assert summary.imported == 3 and summary.analysed == 2 and summary.problems == []
    assert controller.history[-1].message.text.endswith("I want it today")
    assert controller.history[-1].insight.intent.label == "get_refund"
    jsonl = tmp_path / "chat.jsonl"
    jsonl.write_text('{"role": "customer", "text": "hi"}\nnot json\n{"role": "bot", "text": "x"}\n', encoding="utf-8")
    summary = import_transcript(controller, jsonl)
    assert summary.imported == 1 and len(summary.problems) == 2


def test_the_socket_feed_delivers_messages_on_the_pipeline_thread(fused_engines, tmp_path):
    import time

    from assist.capture.chat_feed import send_messages
    from assist.pipeline.controller import SessionController
    from assist.pipeline.feeds import FeedHub

    hub = FeedHub(tmp_path / "config")
    controller = SessionController(fused_engines)
    turns, problems = [], []
    try:
        port, token = hub.start_socket()
        assert stat.S_IMODE(os.stat(tmp_path / "config" / "chat_feed_token").st_mode) == 0o600
        replies = send_messages(port, token, [{"role": "customer", "text": "where is my order?"},
                                              {"role": "agent", "text": "checking now"}])
        assert [r["ok"] for r in replies] == [True, True]
        deadline = time.monotonic() + 5
        while len(turns) < 2 and time.monotonic() < deadline:
            hub.drain(controller, turns.append, problems.append)
            time.sleep(0.02)
    finally:
        hub.stop()
    assert [t.message.kind.value for t in turns] == ["feed", "feed"]
    assert turns[0].insight is not None and controller.session.source == "feed"


@pytest.mark.gui
def test_the_window_takes_dropped_images_imports_and_feed_messages(qtbot, fused_engines, tmp_path,
                                                                    recording_journal):
    from assist.app.gui_main import connect
    from assist.capture.chat_feed import send_messages
    from assist.gui.main_window import MainWindow
    from assist.gui.worker import PipelineWorker, WorkerThread
    from assist.pipeline.controller import SessionController

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    worker = PipelineWorker(lambda state: fused_engines, lambda e: SessionController(e, journal=recording_journal))
    worker.data_dir = tmp_path / "sessions"
    worker.config_dir = tmp_path / "config"
    connect(window, worker)
    thread = WorkerThread(worker)
    try:
        thread.start()
        qtbot.waitUntil(lambda: window.model_ready, timeout=30000)
        shot = write_png(tmp_path / "shot.png", ["Ticket 98765", "Payment: ERR_PAYMENT_DECLINED"])
        with qtbot.waitSignal(worker.screenshot_added, timeout=30000):
            window.capture.drop_paths([str(shot)])
        qtbot.waitUntil(lambda: "Screenshot" in window.conversation.toPlainText(), timeout=5000)
        junk = tmp_path / "junk.bin"
        junk.write_bytes(b"\x00\xff" * 1000)
        window.capture.drop_paths([str(junk)])
        qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10000)
        assert "not an image" in window.banner.text()  # said in words; the window goes on below
        transcript = tmp_path / "t.txt"
        transcript.write_text("Customer: my card was charged twice\nAgent: let me look\n", encoding="utf-8")
        window.capture.import_requested.emit(str(transcript))
        qtbot.waitUntil(lambda: "charged twice" in window.conversation.toPlainText(), timeout=15000)
        window.capture.feed.trigger()  # Ctrl+Shift+F: the feed starts listening
        qtbot.waitUntil(lambda: worker.feeds is not None and worker.feeds.server is not None, timeout=5000)
        port, token = worker.feeds.server.port, worker.feeds.token
        send_messages(port, token, [{"role": "customer", "text": "are you still there? this is taking forever"}])
        qtbot.waitUntil(lambda: "taking forever" in window.conversation.toPlainText(), timeout=15000)
        assert "127.0.0.1" in window.statusBar().currentMessage() or window.insights
    finally:
        thread.stop()


@pytest.mark.gui
def test_a_followed_jsonl_file_feeds_the_window(qtbot, fused_engines, tmp_path, recording_journal):
    from assist.app.gui_main import connect
    from assist.gui.main_window import MainWindow
    from assist.gui.worker import PipelineWorker, WorkerThread
    from assist.pipeline.controller import SessionController

    window = MainWindow()
    qtbot.addWidget(window)
    worker = PipelineWorker(lambda state: fused_engines, lambda e: SessionController(e, journal=recording_journal))
    worker.config_dir = tmp_path / "config"
    connect(window, worker)
    thread = WorkerThread(worker)
    feed = tmp_path / "chat.jsonl"
    try:
        thread.start()
        qtbot.waitUntil(lambda: window.model_ready, timeout=30000)
        window.capture.follow_requested.emit(str(feed))  # what "Follow file…" sends after its dialog
        qtbot.waitUntil(lambda: worker.feeds is not None and worker.feeds.tailer is not None, timeout=5000)
        with feed.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"role": "customer", "text": "my voucher code does not work"}) + "\n")
            out.write("{broken\n")
        qtbot.waitUntil(lambda: "voucher code" in window.conversation.toPlainText(), timeout=15000)
        qtbot.waitUntil(lambda: "Chat feed" in window.banner.text(), timeout=5000)  # the broken line, said
        assert recording_journal.named("record_message")[-1][0].kind.value == "feed"
    finally:
        thread.stop()


@pytest.mark.gui
def test_a_weak_intent_is_shown_as_unclear(qtbot):
    from assist.domain import EmotionEstimate, Escalation, EscalationLevel, Insight, LabelEstimate
    from assist.gui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)

    def insight(confidence):
        return Insight(session_id="s", message_id="m", emotion=EmotionEstimate({"neutral": 1.0}),
                       sentiment=LabelEstimate("neutral", 1.0), intent=LabelEstimate("track_order", confidence),
                       escalation=Escalation(EscalationLevel.LOW, 0.0), suggestions=(), model_versions={},
                       timings_ms={"total": 1.0})

    window.on_insight(insight(0.25))
    assert window.intent_badge.text() == "intent: unclear 25%" and "track order" in window.intent_badge.toolTip()
    assert "intent unclear" in window.conversation.toPlainText()  # the message's own line says the same
    assert "track order" not in window.conversation.toPlainText()
    window.on_insight(insight(0.9))
    assert window.intent_badge.text() == "intent: track order 90%"
    assert window.conversation.toPlainText().rstrip().splitlines()[-2].endswith("track order")


@pytest.mark.gui
def test_two_chat_feed_conversations_at_once_are_two_sessions_the_agent_switches_between(qtbot, fused_engines, tmp_path,
                                                                                          recording_journal):
    """Issue 17 (15): a fixed port, the discovery file, and a conversation id in the protocol: messages of two
    conversations sent at once go to two sessions; the window shows one and offers the other, and switching shows
    the other's messages only."""
    import json
    import socket
    import threading

    from assist.app.gui_main import connect
    from assist.capture.chat_feed import send_messages
    from assist.gui.main_window import MainWindow
    from assist.gui.worker import PipelineWorker, WorkerThread
    from assist.pipeline.controller import SessionController
    from assist.pipeline.feeds import DISCOVERY_FILE

    with socket.socket() as probe:  # a port that is free now
        probe.bind(("127.0.0.1", 0))
        fixed = probe.getsockname()[1]
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    worker = PipelineWorker(lambda state: fused_engines, lambda e: SessionController(e, journal=recording_journal))
    worker.config_dir = tmp_path / "config"
    worker.feed_port = fixed
    connect(window, worker)
    thread = WorkerThread(worker)
    try:
        thread.start()
        qtbot.waitUntil(lambda: window.model_ready, timeout=30000)
        window.capture.feed.trigger()
        discovery = tmp_path / "config" / DISCOVERY_FILE
        qtbot.waitUntil(discovery.exists, timeout=5000)
        found = json.loads(discovery.read_text(encoding="utf-8"))
        assert found["port"] == fixed and found["host"] == "127.0.0.1" and found["protocol"] == 2
        token = (tmp_path / "config" / "chat_feed_token").read_text(encoding="utf-8").strip()

        def chat(conversation, texts):
            send_messages(found["port"], token, [{"role": "customer", "text": t, "conversation": conversation,
                                                  "ticket": f"T-{conversation}"} for t in texts])

        first = threading.Thread(target=chat, args=("alpha", ["alpha: my parcel is late", "alpha: still nothing"]))
        second = threading.Thread(target=chat, args=("beta", ["beta: the promo code worked, thanks!"]))
        chat("alpha", ["alpha: hello?"])  # alpha comes first: the window shows it
        first.start()
        second.start()
        first.join(10)
        second.join(10)
        qtbot.waitUntil(lambda: window.conversation_picker.count() == 2, timeout=20000)
        qtbot.waitUntil(lambda: "still nothing" in window.conversation.toPlainText(), timeout=20000)
        assert "beta:" not in window.conversation.toPlainText()
        assert window.picker_action.isVisible()
        sessions = recording_journal.named("start_session")
        assert len({s[0].id for s in sessions}) >= 2  # one session per conversation
        beta = window.conversation_picker.findData("beta")
        assert "1 new" in window.conversation_picker.itemText(beta)
        window.conversation_picker.activated.emit(beta)  # the agent picks beta
        qtbot.waitUntil(lambda: "promo code worked" in window.conversation.toPlainText(), timeout=10000)
        assert "alpha:" not in window.conversation.toPlainText()
        assert window.conversation_picker.itemText(beta) == "beta"
        messages = {m[0].text: m[0].session_id for m in recording_journal.named("record_message")}
        assert messages["alpha: hello?"] == messages["alpha: still nothing"] != messages[
            "beta: the promo code worked, thanks!"]
        window.capture.feed.trigger()  # stopped: the discovery file goes
        qtbot.waitUntil(lambda: not discovery.exists(), timeout=5000)
    finally:
        thread.stop()


@pytest.mark.gui
def test_a_fed_conversation_beside_the_windows_own_chat_can_be_reached_and_left(qtbot, fused_engines, tmp_path,
                                                                                 recording_journal):
    """The agent is typing in the window's own chat when the feed brings a named conversation: both are listed, the
    agent switches to it and back."""
    from assist.app.gui_main import connect
    from assist.capture.chat_feed import send_messages
    from assist.domain import Role
    from assist.gui.main_window import MainWindow
    from assist.gui.worker import PipelineWorker, WorkerThread
    from assist.pipeline.controller import SessionController

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    worker = PipelineWorker(lambda state: fused_engines, lambda e: SessionController(e, journal=recording_journal))
    worker.config_dir = tmp_path / "config"
    connect(window, worker)
    thread = WorkerThread(worker)
    try:
        thread.start()
        qtbot.waitUntil(lambda: window.model_ready, timeout=30000)
        window.start_action.trigger()
        qtbot.waitUntil(lambda: window.session is not None, timeout=10000)
        window.set_role(Role.CUSTOMER)
        window.input.setPlainText("typed here: my order is late")
        window.send()
        qtbot.waitUntil(lambda: "typed here" in window.conversation.toPlainText(), timeout=15000)
        window.capture.feed.trigger()
        qtbot.waitUntil(lambda: worker.feeds is not None and worker.feeds.server is not None, timeout=5000)
        send_messages(worker.feeds.server.port, worker.feeds.token,
                      [{"role": "customer", "text": "fed: hello from gamma", "conversation": "gamma"}])
        qtbot.waitUntil(lambda: window.conversation_picker.count() == 2, timeout=15000)
        assert window.picker_action.isVisible() and "typed here" in window.conversation.toPlainText()
        window.conversation_picker.activated.emit(window.conversation_picker.findData("gamma"))
        qtbot.waitUntil(lambda: "hello from gamma" in window.conversation.toPlainText(), timeout=10000)
        window.conversation_picker.activated.emit(window.conversation_picker.findData(""))
        qtbot.waitUntil(lambda: "typed here" in window.conversation.toPlainText(), timeout=10000)
        assert "hello from gamma" not in window.conversation.toPlainText()
    finally:
        thread.stop()
