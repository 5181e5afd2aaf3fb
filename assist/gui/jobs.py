"""One-off jobs off the GUI thread (a KB import, a model check): ``work(state)`` runs once in a QObject on its own
QThread and reports progress and its outcome through signals only; ``JobRunner`` owns at most one such job and
its thread — start, cancel, shut down (wait with a timeout), and clean up."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from assist.domain import ProgressState


class Job(QObject):
    """``work(state)`` once; ``result`` or ``error`` (in words, from ``describe_error``) is set when it finishes."""

    progress = Signal(float, str)
    finished = Signal(object)  # this job

    def __init__(self, what: str, work: Callable[[ProgressState], object],
                 describe_error: Callable[[Exception], str] | None = None) -> None:
        super().__init__()
        self.what, self.work = what, work
        self.describe_error = describe_error or (lambda exc: f"{what} failed: {exc or exc.__class__.__name__}")
        self.state = ProgressState(self.progress.emit)
        self.result: object = None
        self.error = ""

    @Slot()
    def run(self) -> None:
        try:
            self.result = self.work(self.state)
        except Exception as exc:  # noqa: BLE001 - any failure becomes words for the widget, never a crash
            self.error = self.describe_error(exc)
        self.finished.emit(self)


class JobRunner:
    """At most one job at a time, on a thread named ``assist-<name>-<what>``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.job: Job | None = None
        self.thread: QThread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None

    def start(self, job: Job, on_progress: Callable[[float, str], None], on_finished: Callable[[Job], None]) -> bool:
        """Run ``job``; False when one is running already. The callbacks must be bound slots of a GUI object."""
        if self.thread is not None:
            return False
        self.job, self.thread = job, QThread()
        self.thread.setObjectName(f"assist-{self.name}-{job.what}")
        job.moveToThread(self.thread)
        self.thread.started.connect(job.run)
        job.progress.connect(on_progress)
        job.finished.connect(on_finished)
        self.thread.start()
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.state.cancel()

    def is_current(self, job: Job) -> bool:
        """False for a job that ``shutdown`` already waited for (its late signal is to be ignored)."""
        return job is self.job

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel the running job and wait for its thread; True when no thread is left."""
        self.cancel()
        if self.thread is None:
            return True
        self.thread.quit()  # its event loop ends as soon as the job's run() returns
        stopped = self.thread.wait(timeout_ms)
        if stopped:
            self.finish()
        return stopped

    def finish(self) -> None:
        """After the job finished: end its thread and let Qt delete both."""
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait(10000)
        for obj in (self.job, self.thread):
            if obj is not None:
                obj.deleteLater()
        self.job = self.thread = None
