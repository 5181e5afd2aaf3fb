"""The single writer thread: owns the write connection and drains a queue of WriteOps.

Callers only enqueue. The thread batches what is queued into short explicit transactions,
waits out lock contention with backoff (keeping every pending row), and on stop drains the
tail of the queue before it exits.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from assist.storage.errors import DatabaseUnavailable, StorageError, classify, is_locked
from assist.storage.rows import WriteOp

log = logging.getLogger("assist.storage")

THREAD_NAME = "assist-journal-writer"
BATCH_MAX_OPS = 200
BACKOFF_START_S = 0.05
BACKOFF_MAX_S = 1.0
IDLE_POLL_S = 0.5
ORPHAN_GRACE_S = 5.0  # after the main thread has exited without close()

_STOP = object()


class JournalWriter:
    """One non-daemon thread writing WriteOps in arrival order; errors go to ``report``."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        report: Callable[[StorageError], None],
        busy_timeout_s: float,
    ) -> None:
        self._conn = conn
        self._path = path
        self._report = report
        self._busy_timeout_s = busy_timeout_s
        self._queue: queue.Queue[object] = queue.Queue()
        self._cond = threading.Condition()
        self._pending = 0
        self._closing = False
        self._deadline: float | None = None
        self._wake = threading.Event()
        self._lock_reported = False
        self.unwritten = 0
        self.thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=False)
        self.thread.start()

    @property
    def pending(self) -> int:
        """Rows queued or being written, not yet committed or given up."""
        with self._cond:
            return self._pending

    def submit(self, op: WriteOp) -> None:
        """Queue ``op``; raises StorageError once the writer is stopping."""
        with self._cond:
            if self._closing:
                raise StorageError(f"The conversation journal at {self._path} is closed; nothing more is saved.",
                                   self._path)  # fmt: skip
            self._pending += op.rows
            self._queue.put(op)

    def flush(self, timeout: float) -> bool:
        """Wait until every queued row is committed (or given up); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=max(0.0, timeout))

    def stop(self, timeout: float) -> bool:
        """Drain the queue, then stop and join the thread; True when nothing was lost."""
        with self._cond:
            if not self._closing:
                self._closing = True
                self._deadline = time.monotonic() + max(0.0, timeout)
                self._queue.put(_STOP)
        self._wake.set()
        self.thread.join(max(0.0, timeout) + self._busy_timeout_s + 2 * BACKOFF_MAX_S)
        return not self.thread.is_alive() and self.unwritten == 0 and self.pending == 0

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch, stop = self._next_batch()
                if batch and not self._write_with_retry(deque(batch)):
                    break
                if stop:
                    break
        except Exception as exc:  # a bug here must not pass silently: report it, then stop
            log.exception("journal writer crashed")
            self._emit(StorageError(f"The conversation journal at {self._path} stopped saving ({exc}).", self._path))
        finally:
            try:
                self._conn.close()
            except sqlite3.Error:
                log.exception("closing the journal write connection failed")

    def _next_batch(self) -> tuple[list[WriteOp], bool]:
        """Block for the next op, then take what else is queued (up to BATCH_MAX_OPS)."""
        while True:
            try:
                item = self._queue.get(timeout=IDLE_POLL_S)
                break
            except queue.Empty:
                if not threading.main_thread().is_alive():  # the app exited without close()
                    return [], True
        if item is _STOP:
            return [], True
        batch = [item]
        while len(batch) < BATCH_MAX_OPS:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return self._ops(batch), True
            batch.append(item)
        return self._ops(batch), False

    @staticmethod
    def _ops(items: list[object]) -> list[WriteOp]:
        return [item for item in items if isinstance(item, WriteOp)]

    def _write_with_retry(self, todo: deque[WriteOp]) -> bool:
        """Write ``todo``; while the database is locked, back off and retry. False = gave up."""
        delay = BACKOFF_START_S
        while todo:
            try:
                self._write(todo)
            except sqlite3.Error as exc:  # only lock errors escape _write
                if not self._lock_reported:
                    self._lock_reported = True
                    self._emit(DatabaseUnavailable(self._path, str(exc), locked=True))
                deadline = self._give_up_at()
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    self._abandon(todo)
                    return False
                self._wake.wait(delay if deadline is None else min(delay, deadline - now))
                self._wake.clear()
                delay = min(delay * 2, BACKOFF_MAX_S)
        self._lock_reported = False
        return True

    def _give_up_at(self) -> float | None:
        with self._cond:
            if self._deadline is None and not threading.main_thread().is_alive():
                self._deadline = time.monotonic() + ORPHAN_GRACE_S
            return self._deadline

    def _write(self, todo: deque[WriteOp]) -> None:
        """Commit ``todo`` in one transaction; on a bad row, fall back to one op per transaction."""
        if len(todo) > 1:
            try:
                self._transaction(list(todo))
            except Exception as exc:
                if is_locked(exc):
                    raise
            else:
                self._done(sum(op.rows for op in todo))
                todo.clear()
                return
        while todo:
            op = todo[0]
            try:
                self._transaction([op])
            except Exception as exc:
                if is_locked(exc):
                    raise
                self._emit(classify(exc, self._path, f"save {op.label}"))
            todo.popleft()
            self._done(op.rows)

    def _transaction(self, ops: list[WriteOp]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op in ops:
                for sql, params in op.statements:
                    conn.execute(sql, params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback failed")
            raise

    def _abandon(self, todo: deque[WriteOp]) -> None:
        """Give up on ``todo`` and everything still queued; report how many rows are lost."""
        lost = sum(op.rows for op in todo)
        todo.clear()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, WriteOp):
                lost += item.rows
        self.unwritten += lost
        self._done(lost)
        self._emit(DatabaseUnavailable(
            self._path, f"{lost} records could not be saved before the journal was closed", locked=True,
        ))  # fmt: skip

    def _done(self, rows: int) -> None:
        with self._cond:
            self._pending -= rows
            self._cond.notify_all()

    def _emit(self, error: StorageError) -> None:
        log.warning("%s", error)
        try:
            self._report(error)
        except Exception:
            log.exception("the journal's on_error callback raised")


__all__ = ["THREAD_NAME", "JournalWriter"]
