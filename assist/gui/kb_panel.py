"""The knowledge-base panel: search articles as you type, read one with the matched section highlighted, and
import folders or files on a worker thread (progress, Cancel, the report in words).

The store is thread-safe for one import alongside searches, so searches stay on the GUI thread (milliseconds);
the import runs as a :class:`assist.gui.jobs.Job` on its own thread, reporting through signals only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeyEvent, QPalette, QTextBlock, QTextBlockFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from assist.domain import ProgressState
from assist.gui.jobs import Job, JobRunner
from assist.replies.kb.readers import SUFFIXES
from assist.replies.kb.store import Article, ChunkHit, ImportReport, KnowledgeStore
from assist.replies.search import tokenize

DEBOUNCE_MS = 150
RESULTS = 20
PER_ARTICLE = 2
SNIPPET_CHARS = 180
PROBLEMS_SHOWN = 8
ROLE = Qt.ItemDataRole.UserRole  # (article id, section heading or None)
_FEATURES = QTextDocument.MarkdownFeature(QTextDocument.MarkdownFeature.MarkdownDialectGitHub.value
                                          | QTextDocument.MarkdownFeature.MarkdownNoHTML.value)
_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>~")
SECTION_LEVEL = 3  # section headings; setext headings inside an article's text can only be levels 1 and 2


def md_escape(text: str) -> str:
    """Plain text (one line) that Markdown shows as written."""
    return "".join(f"\\{c}" if c in _MD_SPECIAL else c for c in " ".join(text.split()))


def snippet(text: str, query: str, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around the first query word it contains (else its start)."""
    text = " ".join(text.split())
    lower = text.lower()
    found = [lower.find(w[: max(4, len(w) - 2)]) for w in tokenize(query)]
    pos = min((p for p in found if p >= 0), default=0)
    start = max(0, pos - width // 3)
    if start:
        start = text.find(" ", start) + 1 or start
    piece = text[start : start + width]
    if start + width < len(text):
        piece = piece.rsplit(" ", 1)[0] + " …"
    return ("… " if start else "") + piece


def rank_hint(hit: ChunkHit) -> str:
    """Why a passage ranked: its place by matching words (BM25) and by meaning (embeddings)."""
    parts = [f"words #{hit.bm25_rank}" if hit.bm25_rank else "", f"meaning #{hit.dense_rank}" if hit.dense_rank else ""]
    return " · ".join(filter(None, parts))


def hit_text(hit: ChunkHit, query: str) -> str:
    heading = f"{hit.title} — {hit.section}" if hit.section and hit.section != hit.title else hit.title
    where = " · ".join(filter(None, [hit.source, rank_hint(hit)]))
    return f"{heading}\n{snippet(hit.text, query)}\n{where}"


def import_work(store: KnowledgeStore, path: str) -> Callable[[ProgressState], ImportReport]:
    """``store.import_path`` as a job: any failure becomes words in the report (the store rolled back)."""

    def work(state: ProgressState) -> ImportReport:
        try:
            return store.import_path(path, state)
        except Exception as exc:  # noqa: BLE001 - the report says it; the knowledge base is as it was
            report = ImportReport(path)
            report.abort(f"the import stopped: {exc or exc.__class__.__name__}")
            return report

    return work


class KnowledgePanel(QWidget):
    """Search, read and import knowledge-base articles. ``store`` None shows ``reason`` instead."""

    kb_changed = Signal()  # after an import that succeeded (not failed, not cancelled)
    import_finished = Signal(object)  # ImportReport, whatever the outcome
    article_opened = Signal(str)  # article id

    def __init__(self, store: KnowledgeStore | None, parent: QWidget | None = None, *, reason: str = "") -> None:
        super().__init__(parent)
        self._store: KnowledgeStore | None = None
        self._jobs = JobRunner("kb")
        self._searched: str | None = None  # the query the list shows; None = the article list
        self.current_article: str | None = None
        self.current_section: str | None = None
        self._build()
        self.set_store(store, reason=reason)

    def _build(self) -> None:
        self.search_box = QLineEdit(placeholderText="Search the knowledge base…", clearButtonEnabled=True)
        self.search_box.setToolTip("Search as you type; Up/Down pick a result, Enter opens it, Esc clears")
        self.search_box.installEventFilter(self)
        self.header = QLabel(wordWrap=True)
        self.results = QListWidget(wordWrap=True, alternatingRowColors=True)
        self.results.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.viewer = QTextBrowser(openLinks=False)
        self.viewer.setPlaceholderText("Pick an article or a search result to read it here.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.results)
        split.addWidget(self.viewer)
        split.setStretchFactor(1, 2)
        self.import_folder_button = QPushButton("Import folder…", toolTip="Import every Markdown, CSV and JSON "
                                                "file in a folder; changed files are re-imported, removed ones dropped")
        self.import_file_button = QPushButton("Import file…", toolTip="Import one Markdown, CSV or JSON file")
        self.progress = QProgressBar(maximum=1000, textVisible=False, visible=False)
        self.cancel_button = QPushButton("Cancel", visible=False, toolTip="Stop the import; nothing is changed")
        self.progress_label = QLabel(visible=False)
        self.import_status = QLabel(wordWrap=True, visible=False)
        self.import_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        for w in (self.import_folder_button, self.import_file_button, self.progress, self.cancel_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search_box)
        layout.addWidget(self.header)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.import_status)
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self._search_now)
        self.search_box.textChanged.connect(lambda _text: self._debounce.start())
        self.search_box.returnPressed.connect(self._enter)
        self.results.itemClicked.connect(self._open_item)
        self.results.itemActivated.connect(self._open_item)
        self.import_folder_button.clicked.connect(lambda: self.import_path(self._ask_folder()))
        self.import_file_button.clicked.connect(lambda: self.import_path(self._ask_file()))
        self.cancel_button.clicked.connect(self.cancel_import)

    # --- public API -----------------------------------------------------------------------------------

    def set_store(self, store: KnowledgeStore | None, reason: str = "") -> None:
        """Show another knowledge base (None: none, and why). Not while an import runs."""
        if self.is_importing():
            raise RuntimeError("cannot change the knowledge base while an import runs")
        self._store, self._reason = store, reason
        for w in (self.search_box, self.import_folder_button, self.import_file_button):
            w.setEnabled(store is not None)
        self.viewer.clear()
        self.current_article = self.current_section = None
        self.refresh()

    def focus_search(self) -> None:
        """Ctrl+F: put the cursor in the search box with its text selected."""
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def search(self, query: str) -> None:
        """Show the results for ``query`` now (e.g. a customer's message the main window passes in)."""
        self.search_box.setText(query)
        self._search_now()

    def refresh(self) -> None:
        """Re-run the shown query, or reload the article list; reopen the shown article (it may have changed)."""
        self._searched = None
        self._search_now()
        if self.current_article is not None:
            self.open_article(self.current_article, self.current_section)

    def open_article(self, article_id: str, section: str | None = None) -> bool:
        """Show an article, its ``section`` (heading) highlighted and scrolled to; False if it is not there."""
        article = self._store.article(article_id) if self._store is not None else None
        if article is None:
            self.viewer.setPlainText(f"The article {article_id} is not in the knowledge base (any more).")
            self.current_article = self.current_section = None
            return False
        self.current_article, self.current_section = article_id, section
        self._render(article, section)
        self.article_opened.emit(article_id)
        return True

    def is_importing(self) -> bool:
        return self._jobs.running

    def import_path(self, path: str | Path) -> bool:
        """Start importing a folder or file in the background; False if one runs already, no store or no path."""
        if self._store is None or self.is_importing() or not str(path):
            return False
        self._jobs.start(Job("import", import_work(self._store, str(path))), self._on_progress, self._on_done)
        self._show_busy(True, f"Importing {path}…")
        return True

    def cancel_import(self) -> None:
        if self._jobs.running:
            self._jobs.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling… the knowledge base stays as it was.")

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel a running import and wait for its thread; True when no thread is left."""
        self.cancel_import()
        self._debounce.stop()
        running = self._jobs.running
        stopped = self._jobs.shutdown(timeout_ms)
        if stopped and running:
            self._show_busy(False)
        return stopped

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    # --- the file dialogs (methods, so tests can replace them) ------------------------------------------

    def _ask_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Import a folder of articles")

    def _ask_file(self) -> str:
        patterns = " ".join(f"*{s}" for s in SUFFIXES)
        return QFileDialog.getOpenFileName(self, "Import articles", "", f"Articles ({patterns});;All files (*)")[0]

    # --- searching ----------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Up/Down/PageUp/PageDown in the search box move the results selection; Esc clears the query."""
        if watched is self.search_box and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            step = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_PageUp: -10, Qt.Key.Key_PageDown: 10}
            key = Qt.Key(event.key())
            if key in step and self.results.count():
                row = max(0, min(self.results.count() - 1, self.results.currentRow() + step[key]))
                self.results.setCurrentRow(row)
                return True
            if key == Qt.Key.Key_Escape and self.search_box.text():
                self.search_box.clear()
                return True
        return super().eventFilter(watched, event)

    def _enter(self) -> None:
        """Enter: search now if the query changed, then open the selected (or first) result."""
        if self._debounce.isActive() or self._searched != self.search_box.text().strip():
            self._search_now()
        item = self.results.currentItem() or self.results.item(0)
        if item is not None:
            self._open_item(item)

    @Slot()
    def _search_now(self) -> None:
        self._debounce.stop()
        query = self.search_box.text().strip()
        if self._store is None:
            self._show_header(f"No knowledge base is open. {self._reason}".strip(), [])
            self._searched = query
            return
        if not query:
            self._show_articles()
        else:
            try:
                hits = self._store.search(query, k=RESULTS, max_per_article=PER_ARTICLE)
            except Exception as exc:  # noqa: BLE001 - a database or embedding error, shown in words
                self._show_header(f"The search failed: {exc}", [])
            else:
                header = (f"{len(hits)} passage{'s' * (len(hits) != 1)} for “{query}”" if hits else
                          f"Nothing in the knowledge base matches “{query}”. Try other words.")
                self._show_header(header, [(hit_text(h, query), (h.article_id, h.section), h.text) for h in hits])
        self._searched = query

    def _show_articles(self) -> None:
        articles = sorted(self._store.articles() if self._store else [], key=lambda a: (a.title.casefold(), a.id))
        if not articles:
            self._show_header("The knowledge base is empty. Import articles (Markdown, CSV or JSON files) with "
                              "“Import folder…” or “Import file…” below, and they become searchable here.", [])
            return
        header = f"{len(articles)} article{'s' * (len(articles) != 1)}"
        missing = self._store.needs_reembedding() if self._store else 0
        if missing:
            header += (f" — {missing} passages lack embeddings for the current model, so search by meaning misses "
                       "them; import the folder again (or run “assist kb import”) to embed them")
        rows = [(f"{a.title}\n{' · '.join(filter(None, [a.category, a.source, f'{a.chunks} passages']))}",
                 (a.id, None), a.source) for a in articles]
        self._show_header(header, rows)

    def _show_header(self, header: str, rows: list[tuple[str, tuple[str, str | None], str]]) -> None:
        self.header.setText(header)
        self.results.clear()
        for text, data, tip in rows:
            item = QListWidgetItem(text)
            item.setData(ROLE, data)
            item.setToolTip(tip[:1000])
            self.results.addItem(item)
        if rows:
            self.results.setCurrentRow(0)

    def _open_item(self, item: QListWidgetItem) -> None:
        article_id, section = item.data(ROLE)
        self.open_article(article_id, section)

    # --- the article viewer ---------------------------------------------------------------------------

    def _render(self, article: Article, section: str | None) -> None:
        meta = " · ".join(filter(None, [article.category, article.source]))
        parts = [f"# {md_escape(article.title)}", f"*{md_escape(meta)}*" if meta else "\u00a0"]
        for heading, text in article.sections:
            parts += [f"{'#' * SECTION_LEVEL} {md_escape(heading)}"] if heading else []
            parts.append(text)
        doc = self.viewer.document()
        doc.setMarkdown("\n\n".join(parts), _FEATURES)
        blocks = _blocks(doc)
        starts = self._section_starts(article, blocks)
        index = next((i for i, (h, _) in enumerate(article.sections) if h == section), None)
        if section is None or index is None or starts[index] is None:
            self.viewer.verticalScrollBar().setValue(0)
            return
        end = next((s for s in starts[index + 1 :] if s is not None), len(blocks))
        colour, marked = self.palette().color(QPalette.ColorRole.Highlight), QTextBlockFormat()
        colour.setAlpha(56)  # a tint of the theme's selection colour: readable on light and dark themes
        marked.setBackground(colour)
        for block in blocks[starts[index] : end]:
            QTextCursor(block).mergeBlockFormat(marked)
        first = blocks[starts[index]]
        self.viewer.setTextCursor(QTextCursor(first))
        top = doc.documentLayout().blockBoundingRect(first).top()
        self.viewer.verticalScrollBar().setValue(int(top))

    @staticmethod
    def _section_starts(article: Article, blocks: list[QTextBlock]) -> list[int | None]:
        """Index of each section's first block (its heading); None where the rendering cannot tell."""
        headings = [n for n, b in enumerate(blocks) if b.blockFormat().headingLevel() == SECTION_LEVEL]
        headed = [i for i, (h, _) in enumerate(article.sections) if h]
        starts: list[int | None] = [None] * len(article.sections)
        if len(headings) != len(headed):  # an article's own text made extra headings; do not guess
            return starts
        for i, n in zip(headed, headings):
            starts[i] = n
        if article.sections and not article.sections[0][0]:  # the lead text before the first heading
            starts[0] = 2  # after the title and the category/source line
        return starts

    # --- the import, GUI side -------------------------------------------------------------------------

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(round(fraction * 1000))
        if self._jobs.job is not None and not self._jobs.job.state.is_cancelled():
            self.progress_label.setText(message)

    @Slot(object)
    def _on_done(self, job: Job) -> None:
        if not self._jobs.is_current(job):  # a job that shutdown() already waited for
            return
        report = job.result if isinstance(job.result, ImportReport) else ImportReport(job.what)
        if job.error:  # only if import_work itself failed: it turns the import's own errors into the report
            report.abort(job.error)
        self._jobs.finish()
        self._show_busy(False)
        lines = [f"{Path(report.path).name or report.path}: {report.summary()}."]
        lines += [f"• {p}" for p in report.problems[:PROBLEMS_SHOWN]]
        if len(report.problems) > PROBLEMS_SHOWN:
            lines.append(f"… and {len(report.problems) - PROBLEMS_SHOWN} more")
        self.import_status.setText("\n".join(lines))
        self.import_status.setVisible(True)
        self.refresh()
        self.import_finished.emit(report)
        if report.ok and not report.cancelled:
            self.kb_changed.emit()

    def _show_busy(self, busy: bool, message: str = "") -> None:
        self.progress.setValue(0)
        self.progress_label.setText(message)
        for w in (self.progress, self.cancel_button, self.progress_label):
            w.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        for w in (self.import_folder_button, self.import_file_button):
            w.setEnabled(not busy and self._store is not None)


def _blocks(doc: QTextDocument) -> list[QTextBlock]:
    out, block = [], doc.begin()
    while block.isValid():
        out.append(block)
        block = block.next()
    return out
