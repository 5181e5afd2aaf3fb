"""Settings > Models: every model Assist uses (version, licence, size, state), checked against the manifest.

The table fills from the manifests with sizes only (a few ``stat`` calls). Verify (sha256 of every file), Add
model… (a folder copy that may be gigabytes) and Remove run as a :class:`assist.gui.jobs.Job` on its own thread,
reporting through signals only; a problem is shown as ⚠ with what is wrong and what to do, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from assist.domain import ProgressState
from assist.gui.jobs import Job, JobRunner
from assist.inference.model_manifest import (
    SHIPPED_MANIFEST,
    USER,
    Check,
    ManifestError,
    ModelEntry,
    check_entry,
    human_size,
    load_manifest,
    load_user_manifest,
    verify,
)
from assist.inference.user_models import add_user_model, remove_user_model, usage_hint

COLUMNS = ("Model", "Version", "Licence", "Size", "Status")
NAME, VERSION, LICENCE, SIZE, STATUS = range(len(COLUMNS))
OK, WARN = "✓", "⚠"


class ModelsPage(QWidget):
    """The model table with Verify, Add model… and Remove (added models only). ``manifest_path``: tests."""

    verify_finished = Signal(object)  # list[Check]
    model_added = Signal(object)  # ModelEntry
    model_removed = Signal(str)
    job_failed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, manifest_path: Path | None = None) -> None:
        super().__init__(parent)
        self._manifest_path = Path(manifest_path) if manifest_path is not None else SHIPPED_MANIFEST
        self._entries: list[ModelEntry] = []
        self._checks: dict[str, Check] = {}
        self._jobs = JobRunner("models")
        self._build()
        self.refresh()

    def _build(self) -> None:
        self.summary = QLabel(wordWrap=True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(LICENCE, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.progress = QProgressBar(maximum=1000, visible=False)
        self.message = QLabel(wordWrap=True, visible=False)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verify_button = QPushButton("Verify", toolTip="Check every model file's sha256 against the manifest")
        self.add_button = QPushButton("Add model…", toolTip="Copy a model folder (speech, language model, or a "
                                      "retrained Assist model) into your models folder")
        self.remove_button = QPushButton("Remove", toolTip="Delete a model you added (shipped models stay)")
        self.verify_button.clicked.connect(self.start_verify)
        self.add_button.clicked.connect(self.add_model)
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        for button in (self.verify_button, self.add_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    # --- the table -------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload both manifests and show each model with a sizes-only check (no hashing on the GUI thread)."""
        self._entries, problems = [], []
        for load in (lambda: load_manifest(self._manifest_path), load_user_manifest):
            try:
                self._entries += load()
            except ManifestError as exc:
                problems.append(str(exc))
        self._checks = {e.name: check_entry(e, quick=True) for e in self._entries}
        self.table.setRowCount(len(self._entries))
        for row, entry in enumerate(self._entries):
            cells = (entry.name, entry.version or "—", entry.licence, human_size(entry.size), "")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
            origin = "added by you" if entry.origin == USER else "shipped with Assist"
            self.table.item(row, NAME).setToolTip(f"{entry.source}\n({origin})")
            self.table.item(row, SIZE).setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._show_check(row, self._checks[entry.name])
        self.table.resizeColumnsToContents()
        self._update_summary(problems)
        self._update_buttons()

    def _show_check(self, row: int, check: Check) -> None:
        item = self.table.item(row, STATUS)
        if check.ok:
            item.setText(f"{OK} {'sizes match' if check.quick else 'verified'}")
            item.setToolTip(check.note or ("Sizes match the manifest; Verify checks the contents too." if check.quick
                                           else "Every file matches its sha256 in the manifest."))
        else:
            item.setText(f"{WARN} {check.problem}")
            item.setToolTip(f"{check.problem}\n{check.action}".strip())

    def _update_summary(self, problems: list[str] | None = None) -> None:
        bad = [c for c in self._checks.values() if not c.ok]
        lines = [f"{WARN} {p}" for p in problems or []]
        lines += [f"{WARN} {c.name}: {c.problem} {c.action}".strip() for c in bad]
        if not lines:
            verified = not any(c.quick for c in self._checks.values())
            lines = [f"{OK} {len(self._checks)} models, " + ("every file verified." if verified else
                                                              "all present. Verify checks their contents.")]
        self.summary.setText("\n".join(lines))

    def _update_buttons(self) -> None:
        busy = self._jobs.running
        entry = self.selected_entry()
        self.verify_button.setEnabled(not busy)
        self.add_button.setEnabled(not busy)
        self.remove_button.setEnabled(not busy and entry is not None and entry.origin == USER)

    def selected_entry(self) -> ModelEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self._entries[rows[0].row()] if rows and rows[0].row() < len(self._entries) else None

    def checks(self) -> dict[str, Check]:
        return dict(self._checks)

    def row_of(self, name: str) -> int:
        return next((i for i, e in enumerate(self._entries) if e.name == name), -1)

    # --- jobs on the worker thread ---------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return self._jobs.running

    def start_verify(self) -> bool:
        entries = list(self._entries)
        return self._start("verify", "Verifying…", lambda state: verify(entries, state=state))

    def add_model(self) -> bool:
        path = self._ask_folder()
        if not path:
            return False
        return self._start("add", f"Adding {path}…", lambda state: add_user_model(path, state=state))

    def remove_selected(self) -> bool:
        entry = self.selected_entry()
        if entry is None:
            return False
        if entry.origin != USER:
            self._say(f"{entry.name} ships with Assist and cannot be removed.")
            return False
        if not self._confirm(f"Delete {entry.name} and its files ({human_size(entry.size)})?"):
            return False
        name = entry.name
        return self._start("remove", f"Removing {name}…", lambda state: remove_user_model(name))

    def _start(self, what: str, busy_text: str, work: Callable[[ProgressState], object]) -> bool:
        job = Job(what, work, lambda exc: str(exc) if isinstance(exc, ManifestError)
                  else f"{what} failed: {exc or exc.__class__.__name__}")
        if not self._jobs.start(job, self._on_progress, self._on_finished):
            return False
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self._say(busy_text)
        self._update_buttons()
        return True

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel a running job and wait for its thread; True when no thread is left."""
        stopped = self._jobs.shutdown(timeout_ms)
        if stopped:
            self._job_ended()
        return stopped

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    def _job_ended(self) -> None:
        self.progress.setVisible(False)
        self._update_buttons()

    @Slot(float, str)
    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(fraction * 1000))
        if text:
            self.progress.setFormat(f"{text} %p%")

    @Slot(object)
    def _on_finished(self, job: Job) -> None:
        if not self._jobs.is_current(job):  # a job that shutdown() already waited for
            return
        self._jobs.finish()
        self._job_ended()
        result = job.result
        if job.error:
            self._say(f"{WARN} {job.error}")
            self.job_failed.emit(job.error)
        elif job.what == "verify" and isinstance(result, list):
            self._apply_checks(result)
            bad = sum(not c.ok for c in result)
            self._say(f"{WARN} {bad} of {len(result)} models have a problem." if bad
                      else f"{OK} All {len(result)} models verified.")
            self.verify_finished.emit(result)
        elif job.what == "add" and isinstance(result, ModelEntry):
            self.refresh()
            self._say(f"Added {result.name} ({human_size(result.size)}). {usage_hint(result)}")
            self.model_added.emit(result)
        elif job.what == "remove":
            name = Path(str(result)).name
            self.refresh()
            self._say(f"Removed {name}.")
            self.model_removed.emit(name)

    def _apply_checks(self, checks: list[Check]) -> None:
        for check in checks:
            self._checks[check.name] = check
            row = self.row_of(check.name)
            if row >= 0:
                self._show_check(row, check)
        self._update_summary()

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # --- dialogs (methods, so tests can replace them) --------------------------------------------------------

    def _ask_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Add a model folder")

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Remove model", question)
        return answer == QMessageBox.StandardButton.Yes
