"""``assist review [--db J ...]``: the supervisor's window over one or several journals (read-only)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def cmd_review(args: argparse.Namespace) -> int:
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QKeySequence, QShortcut
    from PySide6.QtWidgets import QApplication, QMainWindow

    from assist.gui.review.panel import ReviewPanel
    from assist.storage.connection import default_journal_path

    journals = args.db or [str(default_journal_path())]
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Assist review")
    window = QMainWindow()
    window.setWindowTitle(f"Assist — review ({len(journals)} journal{'s' if len(journals) > 1 else ''})")
    panel = ReviewPanel(journals)
    window.setCentralWidget(panel)
    window.resize(1280, 800)
    QShortcut(QKeySequence("F5"), window, activated=panel.reload)
    QShortcut(QKeySequence("Ctrl+F"), window, activated=panel.search_box.setFocus)
    window.show()
    code = {"value": 0}

    def finish() -> None:
        if panel.rows:
            panel.table.selectRow(0)
        if args.search:
            panel.search_box.setText(args.search)
            panel.search()
        if args.screenshot:
            app.processEvents()
            window.grab().save(args.screenshot)
            print(f"screenshot: {args.screenshot}")
        print(panel.status.text())
        code["value"] = 0 if panel.source is not None and panel.source.readers else 1
        app.quit()

    if args.screenshot or args.offscreen:
        QTimer.singleShot(300, finish)
    try:
        app.exec()
    finally:
        panel.shutdown()
    return code["value"]


def cmd_merge(args: argparse.Namespace) -> int:
    from assist.storage import StorageError
    from assist.storage.merge import merge_journals

    try:
        report = merge_journals(args.into, args.journals)
    except StorageError as exc:
        print(f"assist: error: {exc}", file=sys.stderr)
        return 2
    for problem in report.problems:
        print(f"  - {problem}", file=sys.stderr)
    print(report.summary())
    return 1 if report.problems else 0


def add_review_commands(sub: Any) -> None:
    review = sub.add_parser("review", help="review sessions of one or several journals (read-only)")
    review.add_argument("--db", action="append", help="a journal file (repeat for several; default: this PC's)")
    review.add_argument("--offscreen", action="store_true", help="no window: list, optionally screenshot, exit")
    review.add_argument("--screenshot", help="save a PNG of the window (with the newest session replayed)")
    review.add_argument("--search", help="also run this full-text search before the screenshot")
    review.set_defaults(func=cmd_review)
    merge = sub.add_parser("merge", help="merge journals (bundles from agents' PCs) into an archive, each session "
                           "once, with its screenshots and recordings (the sessions/ folder beside each journal)")
    merge.add_argument("--into", required=True, help="the archive journal (created when missing)")
    merge.add_argument("journals", nargs="+", help="journal files to merge in (read only; their sessions' files are "
                       "copied, never moved)")
    merge.set_defaults(func=cmd_merge)
