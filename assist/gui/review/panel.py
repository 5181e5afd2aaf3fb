"""Review: the sessions of one or several journals (filter, sort), full-text search with the hits marked, and the
replay of the session picked. Read-only; used as the app's Review tab and as ``assist review``'s window."""

from __future__ import annotations

import datetime as dt
import html
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from assist.gui.review.replay import ReplayView
from assist.pipeline.review import ListedSession, ReviewSource
from assist.storage.review import HIT_CLOSE, HIT_OPEN, SessionFilter

COLUMNS = [("Started", "started"), ("Agent", "agent"), ("Length", "duration"), ("Channel", None),
           ("Customer turns", "turns"), ("Peak negative", "peak_negative"), ("Escalations", "escalations"),
           ("Suggestions used", "acceptance"), ("Journal", None)]
PERIODS = {"All time": None, "Today": 1, "Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}
# "Angry": a customer turn read at least this much of one negative emotion (anger, disgust, fear or sadness: the
# session's peak negative, SessionFilter.min_peak_negative); from 50% that emotion was the turn's top reading
ANGRY_FROM, LOW_USE_UNDER, LONG_FROM_S = 0.5, 0.2, 600
PEAK_HELP = ("Peak negative: the strongest single negative emotion (anger, disgust, fear or sadness) the model read "
             "in any customer turn, with its probability")
DEBOUNCE_MS = 250
LIMIT = 500


def journal_name(listed: ListedSession) -> str:
    """The journal a session was recorded in: the one it was merged from (an archive's), else its own."""
    return listed.summary.origin or listed.journal.name


def journal_help(listed: ListedSession) -> str:
    if listed.summary.origin:
        return f"Recorded in {listed.summary.origin}, merged into {listed.journal}"
    return str(listed.journal)


class ReviewPanel(QWidget):
    session_opened = Signal(str)

    def __init__(self, journals: list[str | Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.journals = list(journals)
        self.source: ReviewSource | None = None
        self.sort, self.descending = "started", True
        self.rows: list[ListedSession] = []
        self.last_hits: list = []
        self._build()
        self.reload()

    # ----- layout
    def _build(self) -> None:
        self.agent = QLineEdit(placeholderText="Agent")
        self.period = QComboBox()
        self.period.addItems(list(PERIODS))
        self.escalated = QCheckBox("Escalations")
        self.angry = QCheckBox(f"Angry (≥ {ANGRY_FROM:.0%})")
        self.angry.setToolTip(f"Sessions where a customer turn read {ANGRY_FROM:.0%} or more of one negative emotion "
                              "(anger, disgust, fear or sadness)")
        self.low_use = QCheckBox(f"Low suggestion use (≤ {LOW_USE_UNDER:.0%})")
        self.long = QCheckBox(f"Long (≥ {LONG_FROM_S // 60} min)")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("The listed sessions as CSV or JSON, the open session as an HTML report, "
                                      "or a team summary of the listed period")
        export_menu = QMenu(self.export_button)
        export_menu.addAction("Listed sessions as CSV…", lambda: self.export_listed("csv"))
        export_menu.addAction("Listed sessions as JSON…", lambda: self.export_listed("json"))
        export_menu.addAction("Open session as HTML report…", self.export_report)
        export_menu.addAction("Team summary (HTML)…", self.export_team)
        self.export_button.setMenu(export_menu)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the journals again (F5)")
        filters = QHBoxLayout()
        for w in (self.agent, self.period, self.escalated, self.angry, self.low_use, self.long):
            filters.addWidget(w)
        filters.addStretch(1)
        filters.addWidget(self.export_button)
        filters.addWidget(self.refresh_button)
        self.search_box = QLineEdit(placeholderText="Search transcripts, chat and screenshot text (Ctrl+F)")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([c for c, _ in COLUMNS])
        peak_header = self.table.horizontalHeaderItem([key for _, key in COLUMNS].index("peak_negative"))
        if peak_header is not None:
            peak_header.setToolTip(PEAK_HELP)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        # sized once per fill: ResizeToContents re-measured every column at each setItem (58 s for 500 rows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().sectionClicked.connect(self.sort_by_column)
        self.table.currentCellChanged.connect(lambda row, *_: self.open_row(row))
        self.hits = QTextBrowser()
        self.hits.setOpenLinks(False)
        self.hits.anchorClicked.connect(self._open_hit)
        self.hits.hide()
        self.replay = ReplayView()
        self.replay.annotated.connect(self._reopen)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.search_box)
        left_layout.addWidget(self.hits, 1)
        left_layout.addWidget(self.table, 3)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.replay)
        split.setSizes([620, 620])
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.search)
        self.search_box.textChanged.connect(lambda _: self._timer.start())
        self.search_box.returnPressed.connect(self.search)
        self._agent_timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)  # typing an agent re-lists only
        self._agent_timer.timeout.connect(self.refresh_list)
        self.agent.textChanged.connect(lambda _: self._agent_timer.start())
        for box in (self.escalated, self.angry, self.low_use, self.long):
            box.toggled.connect(self.refresh_list)
        self.period.currentIndexChanged.connect(self.refresh_list)
        self.refresh_button.clicked.connect(self.reload)

    # ----- data
    def reload(self) -> None:
        """(Re)open the journals read-only and list their sessions."""
        if self.source is not None:
            self.source.close()
        self.source = ReviewSource(self.journals)
        self.refresh_list()

    def current_filter(self) -> SessionFilter:
        days = PERIODS[self.period.currentText()]
        return SessionFilter(agent=self.agent.text().strip(), since=time.time() - days * 86400 if days else None,
                             min_peak_negative=ANGRY_FROM if self.angry.isChecked() else 0.0,
                             escalated_only=self.escalated.isChecked(),
                             max_acceptance=LOW_USE_UNDER if self.low_use.isChecked() else None,
                             min_duration_s=LONG_FROM_S if self.long.isChecked() else 0.0)

    def refresh_list(self) -> None:
        assert self.source is not None
        problems = list(self.source.problems)
        try:
            self.rows = self.source.sessions(self.current_filter(), self.sort, self.descending, LIMIT)
            total = self.source.count(self.current_filter())
        except Exception as exc:  # noqa: BLE001 - a journal damaged while open: say so, keep the window
            self.rows, total = [], 0
            problems.append(f"Reading the journal failed: {exc}")
        self._fill_table()
        shown = f"{len(self.rows)} of {total} sessions" if total > len(self.rows) else f"{total} sessions"
        journals = f"{len(self.source.readers)} journal{'s' if len(self.source.readers) != 1 else ''}"
        self.status.setText(" · ".join([f"{shown} in {journals}", *problems]))
        self.status.setStyleSheet("color:#b00" if problems else "")

    def _fill_table(self) -> None:
        self.table.blockSignals(True)
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(0)
        self.table.setRowCount(len(self.rows))
        for r, listed in enumerate(self.rows):
            s = listed.summary
            used = f"{s.used}/{s.suggestions}" + (f" ({s.acceptance:.0%})" if s.acceptance is not None else "")
            minutes, secs = divmod(int(s.duration_s), 60)
            cells = [dt.datetime.fromtimestamp(s.started_at).strftime("%Y-%m-%d %H:%M"), s.agent or "—",
                     f"{minutes}:{secs:02d}", s.source, str(s.customer_turns), s.peak_text,
                     str(s.escalations), used, journal_name(listed)]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 5 and s.peak_negative >= ANGRY_FROM:
                    item.setForeground(Qt.GlobalColor.darkRed)
                if c == len(cells) - 1:
                    item.setToolTip(journal_help(listed))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.setUpdatesEnabled(True)
        self.table.blockSignals(False)

    def sort_by_column(self, column: int) -> None:
        key = COLUMNS[column][1]
        if key is None:
            return
        self.descending = not self.descending if key == self.sort else key != "agent"
        self.sort = key
        self.table.horizontalHeader().setSortIndicator(
            column, Qt.SortOrder.DescendingOrder if self.descending else Qt.SortOrder.AscendingOrder)
        self.refresh_list()

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.open_session(self.rows[row].summary.id, self.rows[row].journal)

    def open_session(self, session_id: str, journal: Path | None = None, event_id: str = "") -> None:
        assert self.source is not None
        self.replay.show_replay(self.source.replay(session_id, journal))
        if event_id:
            self.replay.jump_to_event(event_id)
        self.session_opened.emit(session_id)

    def _reopen(self, session_id: str) -> None:
        """After an annotation: show it in the replay, where the supervisor was."""
        replay = self.replay.replay
        scroll = self.replay.transcript.verticalScrollBar().value()
        if replay is not None and self.source is not None:
            self.replay.show_replay(self.source.replay(session_id, replay.journal))
            self.replay.transcript.verticalScrollBar().setValue(scroll)

    # ----- search
    def search(self) -> None:
        """Search the text (hits above the list); the list itself is not read again for a new query."""
        query = self.search_box.text().strip()
        if not query or self.source is None:
            self.hits.hide()
            return
        found = self.source.search(query)
        blocks = []
        for n, (hit, _journal) in enumerate(found):
            marked = html.escape(hit.snippet).replace(HIT_OPEN, "<b style='background:#fff3b0'>").replace(
                HIT_CLOSE, "</b>")
            when = dt.datetime.fromtimestamp(hit.created_at).strftime("%Y-%m-%d %H:%M")
            blocks.append(f"<p><a href='hit:{n}'>{when} · {html.escape(hit.agent or '—')} · "
                          f"{html.escape(hit.role or hit.kind)}</a><br/>{marked}</p>")
        self.hits.setHtml("".join(blocks) or f"<i>No text contains all of: {html.escape(query)}</i>")
        self.hits.show()
        self.last_hits = found

    def _open_hit(self, url: QUrl) -> None:
        index = int(url.path()) if url.path().isdigit() else -1
        if 0 <= index < len(self.last_hits):
            hit, journal = self.last_hits[index]
            self.open_session(hit.session_id, journal, hit.event_id)

    # ----- export
    def _ask_save_path(self, title: str, name: str, pattern: str) -> str:
        return QFileDialog.getSaveFileName(self, title, str(Path.home() / name), pattern)[0]

    def _export(self, title: str, name: str, pattern: str, journal: Path | None, write: object) -> Path | None:
        """Ask where, write with ``write(reader, path)`` from ``journal``'s reader, say what happened."""
        from assist.storage import StorageError

        reader = self.source.readers.get(journal) if self.source is not None and journal is not None else None
        if reader is None:
            self.status.setText("Nothing to export: list or open a session first.")
            return None
        path = self._ask_save_path(title, name, pattern)
        if not path:
            return None
        try:
            written = Path(write(reader, Path(path)))  # type: ignore[operator]
        except StorageError as exc:
            self.status.setText(f"⚠ {exc}")
            self.status.setStyleSheet("color:#b00")
            return None
        self.status.setText(f"Saved {written}")
        self.status.setStyleSheet("")
        return written

    def _listed_journal(self) -> Path | None:
        return self.rows[0].journal if self.rows else None

    def export_listed(self, fmt: str) -> Path | None:
        """The listed sessions (those of the first journal when several are open) as CSV or JSON."""
        from assist.storage.export import export_sessions

        journal = self._listed_journal()
        ids = [r.summary.id for r in self.rows if r.journal == journal]
        return self._export(f"Export {len(ids)} sessions", f"sessions.{fmt}", f"{fmt.upper()} (*.{fmt})", journal,
                            lambda reader, path: export_sessions(reader, ids, path, fmt))

    def export_report(self) -> Path | None:
        from assist.storage.export import write_session_report

        replay = self.replay.replay
        if replay is None:
            self.status.setText("Open a session first: the report is of the session shown.")
            return None
        return self._export("Session report", f"session-{replay.summary.id[:8]}.html", "HTML (*.html)",
                            replay.journal, lambda reader, path: write_session_report(reader, replay.summary.id, path))

    def export_team(self) -> Path | None:
        from assist.storage.export import write_team_summary

        flt = self.current_filter()
        return self._export("Team summary", "team-summary.html", "HTML (*.html)", self._listed_journal(),
                            lambda reader, path: write_team_summary(reader, flt.since, flt.until, path))

    def shutdown(self) -> None:
        self.replay.stop_playback()
        if self.source is not None:
            self.source.close()
