"""Builds the GUI app: QApplication, journal, worker thread, main window, optional demo."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from assist import seconds_since_start

log = logging.getLogger("assist")


def open_journal(db: str | None, redaction: bool, on_error: Any) -> tuple[Any, str]:
    """The journal, or None and a message the user can act on (the app keeps running)."""
    from assist.storage import Journal, StorageError

    try:
        journal = Journal(db, redaction=redaction, on_error=on_error)
    except StorageError as exc:
        return None, f"{exc} Sessions are NOT being recorded; restart with --db PATH to choose another file."
    return journal, ""


def apply_retention_at_start(db: str | None, days: float | None) -> str:
    """The retention policy (settings ``retention_days``), before the journal opens; a line for the window or ""."""
    if not days:
        return ""
    from assist.storage import StorageError
    from assist.storage.connection import default_journal_path
    from assist.storage.privacy import apply_retention

    try:
        # no VACUUM at start-up: secure_delete already wiped the text; rewriting a big journal would delay the window
        report = apply_retention(Path(db) if db else default_journal_path(), float(days), vacuum=False)
    except (StorageError, ValueError) as exc:
        return f"The retention policy could not be applied: {exc}"
    log.info("retention: %s", report.summary())
    return ""


def _agent_identity(args: argparse.Namespace, window: Any, worker: Any, agent: str) -> None:
    """The agent's name and team: saved to settings.json when set in Settings, passed to the worker for the next
    sessions; asked once (not blocking) at an interactive start when none is set."""
    from assist.app.settings import clean_name, save_settings

    def changed(name: str, team: str) -> None:
        name, team = clean_name(name), clean_name(team)
        problem = save_settings({"agent_name": name, "team": team}, getattr(args, "settings", None))
        if problem:
            window.show_error(problem)
        window.set_agent(name, team)
        worker.request_agent.emit(name, team)
        window.on_status(f"Sessions from now on are recorded as {name}.")

    window.agent_changed.connect(changed)
    interactive = args.command in (None, "run") and not getattr(args, "offscreen", False)
    if not agent and interactive:
        from PySide6.QtCore import QTimer

        from assist.gui.settings_dialog import AgentDialog

        def ask() -> None:
            dialog = AgentDialog(window, team=window.team)
            dialog.page.saved.connect(window.agent_changed.emit)
            window.agent_dialog = dialog  # kept alive with the window
            dialog.open()

        QTimer.singleShot(300, ask)


def run_gui(args: argparse.Namespace) -> int:
    if args.command == "demo" and getattr(args, "script", None) and not getattr(args, "call", None):
        from assist.gui.demo import ScriptError, load_script

        try:
            load_script(args.script)  # a bad script is said before any window opens
        except ScriptError as exc:
            log.error("%s", exc)
            print(f"assist demo: {exc}", file=sys.stderr)
            return 2
    if getattr(args, "offscreen", False):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from assist.app.settings import apply_settings, clean_name, load_settings
    from assist.gui.main_window import MainWindow
    from assist.gui.worker import ErrorBridge, PipelineWorker, WorkerThread
    from assist.pipeline.assembly import app_engine_config, session_controller
    from assist.pipeline.engines import load_call_models, load_engines

    settings, settings_problem = load_settings(getattr(args, "settings", None))
    apply_settings(args, settings)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Assist")
    window = MainWindow()
    if settings_problem:
        window.show_error(settings_problem)
    retention_problem = apply_retention_at_start(args.db, getattr(args, "retention_days", None))
    if retention_problem:
        window.show_error(retention_problem)
    bridge = ErrorBridge()
    bridge.error.connect(window.on_journal_error)  # a bound slot: runs on the GUI thread
    journal, journal_problem = open_journal(args.db, not args.no_redaction, lambda exc: bridge.error.emit(str(exc)))
    if journal is None:
        window.show_error(journal_problem)
        window.set_journal_status("NOT recording")
    else:
        window.set_journal_status(str(getattr(journal, "path", args.db)))
        interrupted = int(getattr(journal, "interrupted_sessions", 0) or 0)
        if interrupted:
            window.on_status(f"{interrupted} session{'s' if interrupted > 1 else ''} of the last run ended when "
                             "Assist stopped unexpectedly: closed at their last message (marked in review)")

    if journal is not None:  # the supervisor's view of this PC's journal, read-only, opened when first shown
        _add_review_tab(window, Path(journal.path))
    config = app_engine_config(model_dir=args.model_dir, device=args.device, backend=args.backend,
                               fusion=bool(getattr(args, "fusion", False)), asr_source=getattr(args, "asr", None),
                               kb_path=Path(args.kb) if getattr(args, "kb", None) else None,
                               llm=getattr(args, "llm", None), llm_download=bool(getattr(args, "llm_download", False)))

    agent = clean_name(getattr(args, "agent_name", None) or "")
    team = clean_name(getattr(args, "team", None) or "")
    window.set_agent(agent, team)

    def make_controller(engines: Any) -> Any:
        return session_controller(engines, journal=journal, redaction=not args.no_redaction,
                                  on_error=lambda m: bridge.error.emit(m), journal_path=getattr(journal, "path", None),
                                  on_draft=worker.draft_update.emit, agent=agent, team=team)

    # Start session as soon as the text model and the knowledge base are ready; the call models follow
    config = dataclasses.replace(config, defer_calls=True)
    worker = PipelineWorker(load_engines=lambda state: load_engines(config, state), make_controller=make_controller,
                            load_later=lambda engines: load_call_models(engines, config))
    worker.agent, worker.team = agent, team
    if journal is not None:  # every file of a session lives with its journal (and goes with its retention)
        from assist.storage.session_files import SESSIONS_DIR

        worker.data_dir = Path(journal.path).parent / SESSIONS_DIR
    connect(window, worker)
    _agent_identity(args, window, worker, agent)
    thread = WorkerThread(worker)
    exit_code = {"value": 0}

    if args.command == "demo" and getattr(args, "call", None):
        _setup_call_demo(args, window, worker, exit_code)
    elif args.command == "demo":
        _setup_demo(args, window, worker, exit_code)
    _choose_devices(args, window)
    _start_feeds(args, window, worker)
    if getattr(args, "size", None):
        window.resize(*args.size)
    window.show()
    QTimer.singleShot(0, lambda: log.info("startup: window shown %.2f s after launch", seconds_since_start()))
    # logging only (runs in the worker's thread): the installers' start-up targets, read by packaging/check_deb.sh
    worker.ready.connect(lambda info: log.info("startup: models ready %.2f s after launch", seconds_since_start()))
    thread.start()
    try:
        result = app.exec()
    finally:
        thread.stop()
        if journal is not None:
            journal.close()
    return exit_code["value"] or result


def _add_review_tab(window: Any, journal: Path) -> None:
    """A Review tab over this PC's journal; it reads the journal when first opened and on Refresh."""
    from PySide6.QtWidgets import QLabel

    placeholder = QLabel("Opening the journal…")
    index = window.main_tabs.addTab(placeholder, "Review")
    window.main_tabs.setTabToolTip(index, "Find, replay and search past sessions (read-only)")

    def opened(current: int) -> None:
        if current != index or window.main_tabs.widget(index) is not placeholder:
            return
        from assist.gui.review.panel import ReviewPanel

        panel = ReviewPanel([journal])
        window.main_tabs.removeTab(index)
        window.main_tabs.insertTab(index, panel, "Review")
        window.main_tabs.setCurrentIndex(index)
        window.review_panel = panel

    window.main_tabs.currentChanged.connect(opened)



def connect(window: Any, worker: Any) -> None:
    """Window requests -> worker (queued); worker results -> window.

    Only signals and QObject-bound slots here: PySide runs a plain lambda connected to the
    worker's signals in the worker's thread, where it must never touch a widget.
    """
    window.send_requested.connect(worker.request_submit)
    window.start_requested.connect(worker.request_start_default)
    window.end_requested.connect(worker.request_end)
    window.feedback_given.connect(worker.request_feedback)
    worker.progress.connect(window.on_progress)
    worker.ready.connect(window.on_ready)
    worker.load_failed.connect(window.on_load_failed)
    worker.session_started.connect(window.set_session)
    worker.session_ended.connect(window.on_session_ended)
    worker.message_recorded.connect(window.on_message)
    worker.insight_ready.connect(window.on_insight)
    window.role_correction_requested.connect(worker.request_correct_role)
    worker.role_corrected.connect(window.on_role_corrected)
    window.conversation_requested.connect(worker.request_switch_conversation)
    worker.conversation_activity.connect(window.on_conversation_activity)
    worker.conversation_switched.connect(window.on_conversation_switched)
    worker.error.connect(window.show_error)
    panel = window.call_panel
    panel.start_requested.connect(worker.request_call_start)
    panel.stop_requested.connect(worker.request_call_stop)
    worker.call_started.connect(panel.on_started)
    worker.call_stopped.connect(panel.on_stopped)
    worker.partial.connect(panel.on_partial)
    worker.level.connect(panel.on_level)
    worker.call_stats.connect(panel.on_stats)
    capture = window.capture
    capture.screenshot_requested.connect(worker.request_screenshot)
    capture.image_file.connect(worker.request_image_file)
    capture.image_bytes.connect(worker.request_image_bytes)
    capture.import_requested.connect(worker.request_import)
    capture.feed_toggled.connect(worker.request_feed_socket)
    capture.follow_requested.connect(worker.request_follow_file)
    worker.screenshot_added.connect(window.on_screenshot)
    worker.screen_grabbed.connect(capture.show_windows)
    worker.status.connect(window.on_status)
    worker.draft_update.connect(window.on_draft)
    worker.checklist_changed.connect(window.next_step.show_checklist)
    window.tools.macros_changed.connect(worker.request_reload_macros)


def _setup_demo(args: argparse.Namespace, window: Any, worker: Any, exit_code: dict[str, int]) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from assist.gui.demo import DemoPlayer, load_script

    player = DemoPlayer(load_script(args.script), delay_ms=0 if args.offscreen else args.delay_ms)
    window._demo_player = player  # keep it alive with the window
    player.send.connect(worker.request_submit)
    worker.message_recorded.connect(player.on_message)
    worker.insight_ready.connect(player.on_insight)
    worker.error.connect(player.on_error)
    worker.ready.connect(worker.request_start_default)
    worker.session_started.connect(player.start)

    def failed(message: str) -> None:
        print(f"assist demo: the model could not be loaded: {message}", file=sys.stderr)
        exit_code["value"] = 1
        if args.offscreen:
            QTimer.singleShot(0, QApplication.quit)

    def finished() -> None:
        _finish_demo(args, window, exit_code)

    player.load_failed.connect(failed)  # relayed through the player so it runs on the GUI thread
    worker.load_failed.connect(player.load_failed)
    player.finished.connect(finished)


def _start_feeds(args: argparse.Namespace, window: Any, worker: Any) -> None:
    """--chat-feed / --follow: start the feeds once the model is ready (the lambdas only ask the worker)."""
    port = getattr(args, "chat_feed_port", None)
    if port is not None and not 1024 <= int(port) <= 65535:
        window.show_error(f"The chat feed port {port} is not usable: give one from 1024 to 65535 "
                          "(settings.json chat_feed_port or --chat-feed-port); a free port is used instead.")
        port = None
    worker.feed_port = int(port or 0)
    if getattr(args, "chat_feed", False):
        window.capture.feed.setChecked(True)
        worker.ready.connect(lambda info: worker.request_feed_socket.emit(True))
    follow = getattr(args, "follow", None)
    if follow:
        window.capture.follow.setChecked(True)
        worker.ready.connect(lambda info: worker.request_follow_file.emit(str(follow)))


def _choose_devices(args: argparse.Namespace, window: Any) -> None:
    """Fill the call panel's device pickers once the window is up; --agent/--customer-device preselect."""
    from PySide6.QtCore import QTimer

    def fill() -> None:
        panel = window.call_panel
        panel.refresh_devices()
        for side, key in (("agent", getattr(args, "agent_device", None)),
                          ("customer", getattr(args, "customer_device", None))):
            if key is not None:
                picker = panel.pickers[side]
                index = picker.findData(key)
                if index < 0:
                    picker.addItem(key, key)
                    index = picker.count() - 1
                picker.setCurrentIndex(index)

    QTimer.singleShot(0, fill)


def _setup_call_demo(args: argparse.Namespace, window: Any, worker: Any, exit_code: dict[str, int]) -> None:
    """``assist demo --call FILE.wav``: replay the file as a live call, then screenshot / summarise / quit."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from assist.gui.demo import CallDemo
    from assist.pipeline.call import CallRequest

    request = CallRequest(replay=str(args.call), speed=args.speed, record=bool(getattr(args, "record", False)))
    # runs in the worker's thread (a lambda on a worker signal): it only asks the worker, never touches a widget
    worker.ready.connect(lambda info: worker.request_call_start.emit(request))

    def finished(stats: dict) -> None:
        from assist.gui.call_panel import describe_stats

        if not stats:
            exit_code["value"] = 1  # the call could not start; the reason is in the banner and the log
        _finish_demo(args, window, exit_code)
        print(f"  call: {describe_stats(stats) or 'did not start'}")

    def failed(message: str) -> None:
        print(f"assist demo: the model could not be loaded: {message}", file=sys.stderr)
        exit_code["value"] = 1
        QTimer.singleShot(0, QApplication.quit)

    relay = CallDemo()
    window._call_demo = relay  # keep it alive with the window
    worker.call_stopped.connect(relay.on_stopped)  # bound slots of a GUI-thread QObject: queued to the GUI
    worker.load_failed.connect(relay.on_load_failed)
    relay.finished.connect(finished)
    relay.load_failed.connect(failed)


def _finish_demo(args: argparse.Namespace, window: Any, exit_code: dict[str, int]) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    if args.screenshot:
        QApplication.processEvents()
        path = Path(args.screenshot)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(path)):
            print(f"assist demo: could not save the screenshot to {path}", file=sys.stderr)
            exit_code["value"] = 1
    print(summary(window, args.screenshot))
    if args.offscreen or args.screenshot:
        QTimer.singleShot(0, QApplication.quit)


def summary(window: Any, screenshot: str | None) -> str:
    insights = window.insights
    lines = [f"Demo finished: {window.conversation.count} messages shown, {len(insights)} customer insights."]
    for i, insight in enumerate(insights, start=1):
        lines.append(
            f"  {i}. {insight.emotion.label} {insight.emotion.confidence:.0%} | {insight.sentiment.label} | "
            f"{insight.intent.label} | escalation {insight.escalation.level.value} | "
            f"{len(insight.suggestions)} suggestions | {insight.timings_ms['total']:.1f} ms"
        )
    if insights:
        lines.append(f"  median analysis time {statistics.median(i.timings_ms['total'] for i in insights):.1f} ms "
                     f"on {insights[0].device}")
    lines.append(f"  journal: {window.journal_label.text().removeprefix('Journal: ')}")
    if screenshot:
        lines.append(f"  screenshot: {screenshot}")
    return "\n".join(lines)
