"""Builds the GUI app: QApplication, journal, worker thread, main window, optional demo."""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("assist")


def open_journal(db: str | None, redaction: bool, on_error: Any) -> tuple[Any, str]:
    """The journal, or None and a message the user can act on (the app keeps running)."""
    from assist.storage import Journal, StorageError

    try:
        journal = Journal(db, redaction=redaction, on_error=on_error)
    except StorageError as exc:
        return None, f"{exc} Sessions are NOT being recorded; restart with --db PATH to choose another file."
    return journal, ""


def run_gui(args: argparse.Namespace) -> int:
    if getattr(args, "offscreen", False):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from assist.gui.main_window import MainWindow
    from assist.gui.worker import ErrorBridge, PipelineWorker, WorkerThread
    from assist.pipeline.controller import SessionController
    from assist.pipeline.engines import EngineConfig, load_engines

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Assist")
    window = MainWindow()
    bridge = ErrorBridge()
    bridge.error.connect(window.on_journal_error)  # a bound slot: runs on the GUI thread
    journal, journal_problem = open_journal(args.db, not args.no_redaction, lambda exc: bridge.error.emit(str(exc)))
    if journal is None:
        window.show_error(journal_problem)
        window.set_journal_status("NOT recording")
    else:
        window.set_journal_status(str(getattr(journal, "path", args.db)))

    config = EngineConfig(model_dir=args.model_dir, device=args.device, backend=args.backend,
                          fusion=bool(getattr(args, "fusion", False)))
    worker = PipelineWorker(
        load_engines=lambda state: load_engines(config, state),
        make_controller=lambda engines: SessionController(
            engines, journal=journal, redaction=not args.no_redaction,
            on_error=lambda m: bridge.error.emit(m)),
    )
    connect(window, worker)
    thread = WorkerThread(worker)
    exit_code = {"value": 0}

    if args.command == "demo":
        _setup_demo(args, window, worker, exit_code)
    window.show()
    thread.start()
    try:
        result = app.exec()
    finally:
        thread.stop()
        if journal is not None:
            journal.close()
    return exit_code["value"] or result


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
    worker.error.connect(window.show_error)


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

    player.load_failed.connect(failed)  # relayed through the player so it runs on the GUI thread
    worker.load_failed.connect(player.load_failed)
    player.finished.connect(finished)


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
