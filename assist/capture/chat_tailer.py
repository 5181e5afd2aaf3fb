"""Live chat feed from a JSON-lines file that another tool appends to (one record per line)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from assist.capture.chat_message import MAX_LINE_BYTES, FeedMessage, message_from_record
from assist.capture.errors import FeedError

log = logging.getLogger(__name__)
READ_CHUNK = 64 * 1024


class JsonlFileTailer:
    """Follows a JSON-lines file; calls ``on_message`` / ``on_problem`` from its own thread.

    Waits for the file to appear; restarts from the beginning when the file is truncated or
    replaced (rotation: what is left of the old file is read first); waits for a partial last line
    to be completed; skips lines over ``max_line_bytes`` without buffering them. ``stop()`` still
    delivers every complete line written before it was called.
    """

    def __init__(self, path: Path | str, on_message: Callable[[FeedMessage], None],
                 on_problem: Callable[[str], None], poll_interval: float = 0.2,
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.path = Path(path)
        self.on_message = on_message
        self.on_problem = on_problem
        self.poll_interval = poll_interval
        self.max_line_bytes = max_line_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._buffer = b""
        self._line = 0  # number of the last complete line read from the current file
        self._skipping = False  # inside an oversize line: drop bytes up to its newline
        self._last_error = ""

    def start(self) -> None:
        """Start following the file in a background thread."""
        if self._thread is not None:
            raise RuntimeError("this tailer was already started")
        self._thread = threading.Thread(target=self._run, name=f"assist-tail-{self.path.name}", daemon=False)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Read what is complete, stop, and wait at most ``timeout`` s; True when the thread has ended."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("chat feed tailer for %s did not stop within %.1f s", self.path, timeout)
            return False
        return True

    @property
    def running(self) -> bool:
        """True while the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._poll()
                self._stop.wait(self.poll_interval)
            self._poll()  # lines written just before stop()
            self._finish_last_line()
        except Exception:  # never die silently: the agent would think the feed is quiet
            log.exception("chat feed tailer for %s failed", self.path)
            self._report(f"The chat feed file {self.path} stopped being read (internal error).")
        finally:
            if self._handle is not None:
                self._handle.close()

    def _poll(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            stat = None
        except OSError as exc:
            self._report(f"The chat feed file {self.path} cannot be read: {exc.strerror or exc}.")
            return
        identity = None if stat is None else (stat.st_dev, stat.st_ino)
        if self._handle is not None and identity != self._identity:
            self._read_available()  # rotated or deleted: finish the old file first
            self._handle.close()
            self._handle = None
        if stat is None:
            return
        if self._handle is None:
            self._open(identity)
        elif stat.st_size < self._handle.tell():  # truncated in place
            log.info("chat feed file %s was truncated; reading it from the start", self.path)
            self._handle.seek(0)
            self._reset()
        self._read_available()

    def _open(self, identity: tuple[int, int] | None) -> None:
        try:
            self._handle = self.path.open("rb")
        except OSError as exc:
            self._report(f"The chat feed file {self.path} cannot be opened: {exc.strerror or exc}.")
            return
        self._identity = identity
        self._last_error = ""
        self._reset()

    def _reset(self) -> None:
        self._buffer, self._line, self._skipping = b"", 0, False

    def _read_available(self) -> None:
        if self._handle is None:
            return
        while chunk := self._handle.read(READ_CHUNK):
            self._buffer += chunk
            while (end := self._buffer.find(b"\n")) >= 0:
                line, self._buffer = self._buffer[:end], self._buffer[end + 1:]
                self._line += 1
                if self._skipping:  # the end of an oversize line already reported
                    self._skipping = False
                elif len(line) > self.max_line_bytes:
                    self._line_problem(self._too_long)
                else:
                    self._deliver(line)
            if len(self._buffer) > self.max_line_bytes:  # no newline in sight: do not buffer it all
                if not self._skipping:
                    self._line_problem(self._too_long, self._line + 1)
                self._buffer, self._skipping = b"", True

    def _finish_last_line(self) -> None:
        """At stop, a last line without its newline is delivered if it is already a whole JSON record."""
        if not self._buffer.strip() or self._skipping:
            return
        try:
            json.loads(self._buffer)
        except (ValueError, RecursionError):
            return
        self._line += 1
        self._deliver(self._buffer)

    def _deliver(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self._line_problem("not UTF-8 text")
            return
        except json.JSONDecodeError as exc:
            self._line_problem(f"not valid JSON ({exc.msg})")
            return
        except (ValueError, RecursionError) as exc:
            self._line_problem(f"not valid JSON ({exc})")
            return
        try:
            message = message_from_record(record, "file")
        except FeedError as exc:
            self._line_problem(str(exc))
            return
        try:
            self.on_message(message)
        except Exception:  # a failing consumer must not stop the feed
            log.exception("chat feed consumer failed on %s line %d", self.path, self._line)

    @property
    def _too_long(self) -> str:
        return f"longer than {self.max_line_bytes:,} bytes"

    def _line_problem(self, reason: str, line: int | None = None) -> None:
        self._call_on_problem(f"{self.path.name} line {line or self._line}: {reason}; skipped")

    def _report(self, text: str) -> None:
        if text != self._last_error:  # a missing permission would otherwise be reported every poll
            self._last_error = text
            self._call_on_problem(text)

    def _call_on_problem(self, text: str) -> None:
        try:
            self.on_problem(text)
        except Exception:
            log.exception("chat feed problem handler failed")
