"""The window with the real worker thread and the real model (offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from assist.app.gui_main import connect
from assist.domain import Role
from assist.gui.main_window import MainWindow
from assist.gui.worker import PipelineWorker, WorkerThread
from assist.pipeline.controller import SessionController

pytestmark = pytest.mark.gui


@pytest.fixture
def build(qtbot, request):
    """Window + worker on its own thread; the thread is always stopped, even when a test fails."""

    def make(load_engines, make_controller):
        window = MainWindow()
        qtbot.addWidget(window)
        window.show()
        window.activateWindow()
        qtbot.waitExposed(window)
        worker = PipelineWorker(load_engines=load_engines, make_controller=make_controller)
        connect(window, worker)
        thread = WorkerThread(worker)
        request.addfinalizer(lambda: _stop(thread))
        return window, worker, thread

    return make


def _stop(thread):
    assert thread.stop(), "worker thread did not stop"


@pytest.fixture
def app_parts(qtbot, build, engines, recording_journal):
    window, worker, thread = build(lambda state: engines,
                                   lambda e: SessionController(e, journal=recording_journal))
    thread.start()
    qtbot.waitUntil(lambda: window.model_ready, timeout=30000)
    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.session is not None, timeout=10000)
    return window, worker, recording_journal


def send(qtbot, window, worker, role, text):
    """Send like a user and wait until the window shows the Insight (signals from the GUI thread only:
    pytest-qt's waitSignal on a worker signal would run its handler in the worker thread)."""
    window.set_role(role)
    window.input.setPlainText(text)
    with qtbot.waitSignal(window.insight_shown, timeout=20000) as blocker:
        qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    return blocker.args


def test_customer_message_fills_every_panel(qtbot, app_parts):
    window, worker, journal = app_parts
    (insight,) = send(qtbot, window, worker, Role.CUSTOMER,
                      "This is the third time my package is late, I want my money back NOW")
    assert window.emotion_badge.text().startswith("emotion: anger")
    assert window.sentiment_badge.text().startswith("sentiment: ")
    assert "refund" in window.intent_badge.text() or "complaint" in window.intent_badge.text()
    assert window.escalation_badge.text().startswith("escalation")
    assert window.suggestions.list.count() == 3
    assert window.bars.probabilities["anger"] == insight.emotion.probabilities["anger"]
    assert len(window.timeline.points) == 1
    assert "third time" in window.conversation.toPlainText()
    assert window.device_label.text() in {"Device: CPU (onnxruntime)", "Device: CUDA (onnxruntime)"}
    assert window.model_status.text().startswith("Model: ready")


def test_assist_analyze_prints_the_insight_the_window_shows(qtbot, build, app_engines, capsys):
    """One analysis path: the same turn, typed in the window and given to ``assist analyze``, reads the same."""
    import json

    from assist.app.cli.main import main
    from assist.pipeline.assembly import session_controller

    window, worker, thread = build(lambda state: app_engines, lambda e: session_controller(e))  # as gui_main
    thread.start()
    qtbot.waitUntil(lambda: window.model_ready, timeout=60000)
    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.session is not None, timeout=10000)
    earlier, text = "my parcel never arrived", "it's been two weeks now, I want my money back"
    send(qtbot, window, worker, Role.CUSTOMER, earlier)
    window.set_role(Role.AGENT)  # the agent's turn has no Insight: wait until the window shows it
    window.input.setPlainText("Sorry to hear that! Let me check the tracking.")
    qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "check the tracking" in window.conversation.toPlainText(), timeout=20000)
    (shown,) = send(qtbot, window, worker, Role.CUSTOMER, text)
    assert main(["analyze", "--text", text, "--context", earlier,
                 "--context", "Agent: Sorry to hear that! Let me check the tracking."]) == 0
    printed = json.loads(capsys.readouterr().out)
    window_side = json.loads(json.dumps(shown.to_dict()))  # tuples as lists, as printed
    for key in ("emotion", "sentiment", "intent"):
        assert printed[key]["label"] == window_side[key]["label"]
        assert printed[key]["probabilities"] == pytest.approx(window_side[key]["probabilities"], abs=1e-6)
    assert printed["escalation"]["level"] == window_side["escalation"]["level"]
    assert printed["escalation"]["reasons"] == window_side["escalation"]["reasons"]
    assert printed["escalation"]["score"] == pytest.approx(window_side["escalation"]["score"], abs=1e-6)
    fields = ("text", "source_title", "kb_entry_id")
    assert [[s[f] for f in fields] for s in printed["suggestions"]] == [
        [s[f] for f in fields] for s in window_side["suggestions"]]
    assert printed["notes"] == window_side["notes"] and printed["model_versions"] == window_side["model_versions"]
    assert printed["contributions"] == window_side["contributions"] and printed["device"] == window_side["device"]


def test_agent_message_and_role_toggle(qtbot, app_parts):
    window, worker, journal = app_parts
    assert window.role is Role.CUSTOMER
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert window.role is Role.AGENT
    window.input.setPlainText("Hello! How can I help?")
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "How can I help" in window.conversation.toPlainText(), timeout=10000)
    assert window.input.toPlainText() == ""
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
    window.input.setPlainText("\x00\x01\x02\x03" * 100)
    window.send()
    qtbot.waitUntil(lambda: "binary" in window.banner.text(), timeout=10000)
    assert window.insights == []
    send(qtbot, window, worker, Role.CUSTOMER, "ok, where is my order then?")
    assert window.suggestions.list.count() == 3


def test_emoji_and_huge_messages(qtbot, app_parts):
    window, worker, journal = app_parts
    send(qtbot, window, worker, Role.CUSTOMER, "😡😡😡😡")
    assert "uncertain" in window.notes.text()
    send(qtbot, window, worker, Role.CUSTOMER, "my refund is late " * 60_000)
    assert "first 4,000 characters" in window.notes.text()
    assert len(window.timeline.points) == 2


def test_model_load_failure_is_shown(qtbot, build):
    from assist.inference.errors import ModelUnavailable

    def failing_loader(state):
        raise ModelUnavailable("The text model is missing: models/text/config.json not found.")

    window, worker, thread = build(failing_loader, lambda e: None)
    thread.start()
    qtbot.waitUntil(lambda: "could not be loaded" in window.banner.text(), timeout=10000)
    assert window.model_status.text() == "Model: not available"
    assert not window.start_action.isEnabled()
    window.input.setPlainText("hello")
    window.send()
    assert "Start a session" in window.banner.text()


def test_corrupt_model_file_is_shown_by_the_real_loader(qtbot, build, tmp_path):
    import shutil

    from assist.inference.text_model import default_model_dir
    from assist.pipeline.engines import EngineConfig, load_engines

    target = tmp_path / "text"
    shutil.copytree(default_model_dir(), target)
    (target / "text.int8.onnx").write_bytes(b"\x08\x07garbage" * 1000)
    window, worker, thread = build(lambda state: load_engines(EngineConfig(model_dir=target), state),
                                   lambda e: SessionController(e))
    thread.start()
    qtbot.waitUntil(lambda: "could not be loaded" in window.banner.text(), timeout=20000)
    assert "corrupt" in window.banner.text()
    assert window.model_status.text() == "Model: not available"
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # still responds
    assert window.role is Role.AGENT


def test_window_is_usable_while_the_model_loads(qtbot, build, engines):
    import threading

    release = threading.Event()

    def slow_loader(state):
        state.set_progress(0.3, "loading text model")
        release.wait(10)
        return engines

    window, worker, thread = build(slow_loader, lambda e: SessionController(e))
    thread.start()
    qtbot.waitUntil(lambda: window.load_progress.value() == 30, timeout=5000)
    assert "loading" in window.model_status.text()
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # the GUI still responds
    assert window.role is Role.AGENT
    release.set()
    qtbot.waitUntil(lambda: window.model_ready, timeout=15000)


def test_journal_errors_from_the_writer_thread_reach_the_banner(qtbot):
    import threading

    from assist.gui.worker import ErrorBridge

    window = MainWindow()
    qtbot.addWidget(window)
    bridge = ErrorBridge()
    bridge.error.connect(window.on_journal_error)
    writer = threading.Thread(target=lambda: bridge.error.emit("The journal database is locked by another program."))
    writer.start()
    writer.join()
    qtbot.waitUntil(lambda: "locked by another program" in window.banner.text(), timeout=5000)
    assert window.banner.text().startswith("⚠ Journal:")


def test_painting_does_not_drain_none_refcount(qtbot):
    """PySide6 6.12.0 returned None from void methods without a reference; on Python 3.11 a long
    session then aborts with 'none_dealloc'. Painting the charts must leave None's count alone."""
    import gc
    import sys

    from PySide6.QtGui import QPixmap

    from assist.gui.emotion_chart import EmotionBars, EmotionTimeline

    timeline, bars = EmotionTimeline(), EmotionBars()
    qtbot.addWidget(timeline), qtbot.addWidget(bars)
    timeline.resize(400, 200), bars.resize(400, 200)
    for i in range(20):
        timeline.add_point({"anger": i / 20, "joy": 1 - i / 20})
    bars.set_distribution({"anger": 0.7, "neutral": 0.3})
    pixmap = QPixmap(400, 200)
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(50):
        timeline.render(pixmap)
        bars.render(pixmap)
    gc.collect()
    assert sys.getrefcount(None) - before > -100


def test_fallback_to_pytorch_is_said_in_the_window(qtbot):
    from assist.gui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.on_ready({"device": "cpu", "versions": {"text": "t"}, "load_seconds": {}, "provider": "torch (cpu)",
                     "note": "text.int8.onnx not found"})
    assert window.device_label.text() == "Device: CPU (PyTorch)"
    assert not window.banner.isHidden() and "text.int8.onnx not found" in window.banner.text()


def test_a_new_insight_does_not_resize_badges_or_notes(qtbot, app_parts):
    """Badges and notes keep their size: a size change re-laid out and repainted the whole window."""
    window, worker, journal = app_parts
    widgets = (window.emotion_badge, window.sentiment_badge, window.intent_badge, window.escalation_badge,
               window.escalation_reasons, window.notes)
    send(qtbot, window, worker, Role.CUSTOMER, "ok")
    sizes = [w.size() for w in widgets]
    send(qtbot, window, worker, Role.CUSTOMER,
         "This is ridiculous, I want to cancel my account and I'm calling my lawyer!!! 😡")
    assert [w.size() for w in widgets] == sizes


def test_long_session_timeline_is_averaged_and_cached(qtbot):
    from PySide6.QtGui import QPixmap

    from assist.gui.emotion_chart import EmotionTimeline, bucket_means

    points = [{"anger": (i % 2) * 1.0, "joy": 1.0 - (i % 2)} for i in range(10)]
    means, group = bucket_means(points, 5)
    assert group == 2 and len(means) == 5 and all(abs(m["anger"] - 0.5) < 1e-9 for m in means)
    assert bucket_means(points, 20) == (points, 1)

    timeline = EmotionTimeline()
    qtbot.addWidget(timeline)
    timeline.resize(400, 200)
    for i in range(1000):
        timeline.add_point({"anger": (i % 3) / 2, "neutral": 1 - (i % 3) / 2})
    pixmap = QPixmap(400, 200)
    timeline.render(pixmap)
    cached = timeline._cache
    assert cached is not None
    timeline.render(pixmap)
    assert timeline._cache is cached  # a repaint without new data only copies the cached picture
    timeline.add_point({"joy": 1.0})
    assert timeline._cache is None


def test_a_new_session_starts_empty_and_nothing_of_the_last_customer_can_be_inserted(qtbot, app_parts):
    """Issue 17 (1, 2): End session (Ctrl+E), Start session (Ctrl+N): no previous reading, suggestion, checklist
    or inserted reply survives, and the speaker is the customer again."""
    window, worker, journal = app_parts
    send(qtbot, window, worker, Role.CUSTOMER, "I want a refund for my order, it arrived broken")
    assert window.suggestions.list.count() == 3
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    assert window.role is Role.AGENT and window.input.toPlainText()
    first = window.session.id
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.session is None, timeout=10000)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.session is not None and window.session.id != first, timeout=10000)
    assert window.suggestions.list.count() == 0 and window.input.toPlainText() == ""
    assert window.emotion_badge.text() == "emotion —" and window.escalation_reasons.text() == ""
    assert window.bars.probabilities == {} and window.next_step.checklist is None
    assert window.role is Role.CUSTOMER
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    assert window.input.toPlainText() == ""  # Alt+1 has nothing of the previous customer to insert


def test_after_a_reply_is_sent_the_next_message_is_the_customers(qtbot, app_parts):
    window, worker, journal = app_parts
    send(qtbot, window, worker, Role.CUSTOMER, "where is my parcel?")
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    window.input.setPlainText("Let me check that for you.")  # the agent edits the inserted reply
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "Let me check that" in window.conversation.toPlainText(), timeout=10000)
    assert window.role is Role.CUSTOMER  # the next pasted message is not journaled as the agent's
    (insight,) = send(qtbot, window, worker, window.role, "it was due on Monday")
    assert insight is not None


def test_dismissing_renumbers_and_alt_n_inserts_the_reply_numbered_n(qtbot, app_parts):
    window, worker, journal = app_parts
    (insight,) = send(qtbot, window, worker, Role.CUSTOMER, "I forgot my password")
    window.suggestions.list.setCurrentRow(0)
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    texts = [window.suggestions.list.item(r).text() for r in range(window.suggestions.list.count())]
    assert [t.split(".", 1)[0] for t in texts] == ["1", "2"]
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    assert window.input.toPlainText() == insight.suggestions[1].text


def test_a_reply_with_an_unfilled_placeholder_is_highlighted_and_not_sent_unedited(qtbot, app_parts):
    from assist.gui.suggestions import unfilled_placeholders

    window, worker, journal = app_parts
    assert unfilled_placeholders("Hi [customer name?], order [order id?] and [order id?]") == [
        "[customer name?]", "[order id?]"]
    window.set_role(Role.AGENT)
    window.input.setPlainText("Thanks, [customer name?]! Your order has shipped.")
    block = window.input.document().firstBlock()
    formats = block.layout().formats()
    assert any(f.format.background().color().name() == "#fff176" for f in formats)  # highlighted
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "Fill in [customer name?]" in window.banner.text() and window.banner.isVisible()
    assert "[customer name?]" in window.input.toPlainText()  # kept for the agent to edit; nothing was sent
    assert "Your order has shipped" not in window.conversation.toPlainText()


def test_start_session_is_available_before_the_call_models_load(qtbot, build, engines, recording_journal):
    """Issue 17 (7): the window is ready (Start session enabled) once the text model and the knowledge base are;
    the call models load afterwards on a thread of their own, and what they could not load is said."""
    import threading

    loaded = threading.Event()
    release = threading.Event()

    def load_later(e):
        release.wait(10)  # the call models take their time; the window must not wait for them
        loaded.set()
        return ["The speech model is not installed: calls are off."]

    window, worker, thread = build(lambda state: engines, lambda e: SessionController(e, journal=recording_journal))
    worker._load_later = load_later
    thread.start()
    qtbot.waitUntil(lambda: window.model_ready and window.start_action.isEnabled(), timeout=30000)
    assert not loaded.is_set()
    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.session is not None, timeout=10000)  # a session runs while they load
    release.set()
    qtbot.waitUntil(lambda: "speech model is not installed" in window.banner.text(), timeout=10000)
    worker.later_thread.join(5)


def test_an_inserted_reply_counts_as_used_only_once_it_is_sent(qtbot, app_parts):
    """Issue 17 (12): inserted, then sent as it was -> "sent"; edited but mostly kept -> "edited_sent"; rewritten
    -> nothing beyond "inserted"."""
    from assist.gui.main_window import sent_action

    assert sent_action("Hello there, order 1 shipped.", "Hello  there, order 1 shipped.") == "sent"
    assert sent_action("Your order shipped today and arrives Monday.", "Good news: your order shipped today, "
                       "it arrives Monday!") == "edited_sent"
    assert sent_action("Your order shipped today and arrives Monday.", "Let me check with the carrier.") == ""
    window, worker, journal = app_parts

    def actions():
        return [(fb.suggestion_id, fb.action.value) for (fb,) in journal.named("record_feedback")]

    (insight,) = send(qtbot, window, worker, Role.CUSTOMER, "I forgot my password")
    first = insight.suggestions[0]
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(actions()) == 2, timeout=5000)
    assert actions() == [(first.id, "inserted"), (first.id, "sent")]
    (insight,) = send(qtbot, window, worker, Role.CUSTOMER, "it still doesn't work")
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    window.input.setPlainText("One moment, let me look.")  # the agent rewrote it
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "let me look" in window.conversation.toPlainText(), timeout=10000)
    qtbot.wait(200)
    assert actions()[2:] == [(insight.suggestions[0].id, "inserted")]


def test_used_suggestions_mean_sent_or_copied_and_old_journals_keep_their_meaning():
    from assist.domain import used_suggestions

    assert used_suggestions([("a", "inserted"), ("a", "sent"), ("b", "inserted"), ("c", "copied"),
                             ("d", "inserted"), ("d", "edited_sent")]) == {"a": "sent", "c": "copied",
                                                                           "d": "edited_sent"}
    assert used_suggestions([("a", "inserted"), ("b", "copied"), ("c", "dismissed")]) == {"a": "inserted",
                                                                                          "b": "copied"}


def test_the_speaker_of_a_message_can_be_corrected_afterwards(qtbot, app_parts):
    """Issue 17 (2): a customer message sent as the agent's (the switch was left on Agent) is corrected from its
    bubble: it is read as the customer's (an Insight), the journal records the correction, and back again."""
    window, worker, journal = app_parts
    window.set_role(Role.AGENT)
    window.input.setPlainText("my parcel never arrived and I'm really upset")
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "never arrived" in window.conversation.toPlainText(), timeout=10000)
    (message_id, role), = [(m, r) for _, _, m, r in window.conversation.spans]
    assert role is Role.AGENT and not window.insights
    middle = window.conversation.cursorRect(window.conversation.textCursor()).center()
    assert window.conversation.message_at(middle) in (None, (message_id, Role.AGENT))  # found by position
    window.conversation.role_change_requested.emit(message_id, "customer")
    qtbot.waitUntil(lambda: len(window.insights) == 1, timeout=10000)
    assert window.insights[0].message_id == message_id
    assert window.emotion_badge.text().startswith("emotion: ")
    assert [(m, r) for _, _, m, r in window.conversation.spans] == [(message_id, Role.CUSTOMER)]
    assert journal.named("record_role_correction")[0][:2] == (message_id, "customer")
    assert journal.named("record_insight")[-1][0].message_id == message_id
    window.conversation.role_change_requested.emit(message_id, "agent")  # and back
    qtbot.waitUntil(lambda: not window.insights, timeout=10000)
    assert [(m, r) for _, _, m, r in window.conversation.spans] == [(message_id, Role.AGENT)]
    window.conversation.role_change_requested.emit("not-a-message", "agent")
    qtbot.waitUntil(lambda: "not in the current session" in window.banner.text(), timeout=10000)
