"""The pipeline worker's capture slots: live calls, screenshots, transcript import and chat feeds.

A mixin of :class:`assist.gui.worker.PipelineWorker` (which declares the signals); everything here runs in
the worker's thread, like the chat path, so one thread owns the session controller.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

from PySide6.QtCore import QTimer, Slot

from assist.domain import ProgressState

log = logging.getLogger("assist.gui.worker")

FEED_POLL_MS = 100


class CaptureSlots:
    controller: Any

    def _init_capture(self) -> None:
        self.call: Any = None
        self._call_timer: Any = None
        self._last_level: dict[str, float] = {}
        self.screens: Any = None
        self.feeds: Any = None
        self._feed_timer: Any = None
        self.request_call_start.connect(self.start_call)
        self.request_call_stop.connect(self.stop_call)
        self.request_screenshot.connect(self.take_screenshot)
        self.request_image_file.connect(self.add_image_file)
        self.request_image_bytes.connect(self.add_image_bytes)
        self.request_import.connect(self.import_file)
        self.request_feed_socket.connect(self.feed_socket)
        self.request_follow_file.connect(self.follow_file)

    # --- live calls -----------------------------------------------------------------------

    @Slot(object)
    def start_call(self, request: Any) -> None:
        """Open the call's audio sources and start polling them (a QTimer in this thread)."""
        from assist.pipeline.call import open_call

        if not self._check_ready():
            return
        later = getattr(self, "later_thread", None)
        if later is not None and later.is_alive():  # the call models are still loading (a second after start)
            self.status.emit("Loading the speech model for the call…")
            later.join(timeout=60)
        if self.call is not None:
            self.stop_call()
        try:
            if self.controller.session is None:
                self.session_started.emit(self.controller.start_session(source="call"))
            self.call = open_call(self.controller, request, self._call_callbacks(), getattr(self, "data_dir", None))
            self.call.start()
        except Exception as exc:  # CaptureError (no device...), ModelUnavailable (no recogniser)
            if self.call is not None:  # opened but could not start: close what did open
                try:
                    self.call.stop()
                except Exception:
                    log.exception("closing a call that failed to start")
            self.call = None
            self.error.emit(str(exc))
            self.call_stopped.emit({})
            return
        self._call_timer = QTimer(self)
        self._call_timer.setInterval(40)
        self._call_timer.timeout.connect(self._poll_call)
        self._call_timer.start()
        devices = {name: ch.source.name for name, ch in self.call.channels.items()}
        if self.call.recorder is not None:
            devices["recording"] = str(self.call.recorder.folder)
        self.call_started.emit(devices)

    def _call_callbacks(self) -> Any:
        from assist.pipeline.live import LiveCallbacks

        def on_turn(turn: Any, timing: dict) -> None:
            self._emit_turn(turn)

        return LiveCallbacks(on_partial=self.partial.emit, on_turn=on_turn, on_level=self._on_level,
                             on_error=self.error.emit)

    def _on_level(self, channel: str, level_db: float) -> None:
        now = time.monotonic()
        if now - self._last_level.get(channel, 0.0) >= 0.1:  # 10 updates a second are plenty for a meter
            self._last_level[channel] = now
            self.level.emit(channel, level_db)

    @Slot()
    def _poll_call(self) -> None:
        if self.call is None:
            return
        try:
            self.call.poll()
        except Exception as exc:
            log.error("call processing failed: %s", traceback.format_exc())
            self.error.emit(f"Call processing failed: {exc}")
        if self.call is None:
            return
        now = time.monotonic()
        if now - self._last_level.get("stats", 0.0) >= 1.0:
            self._last_level["stats"] = now
            self.call_stats.emit(self.call.stats())
        if self.call.finished:
            self.stop_call()

    @Slot()
    def stop_call(self) -> None:
        """Stop capturing; what was already heard is transcribed, analysed and recorded before this returns."""
        if self._call_timer is not None:
            self._call_timer.stop()
            self._call_timer = None
        call, self.call = self.call, None
        if call is None:
            return
        try:
            call.stop()
        except Exception as exc:
            self.error.emit(f"Stopping the call: {exc}")
        self.call_stopped.emit(call.stats())

    # --- screenshots ----------------------------------------------------------------------

    def _screens(self) -> Any:
        if self.screens is None:
            from assist.pipeline.screens import ScreenshotService

            self.screens = ScreenshotService(self.controller, getattr(self, "data_dir", None))
        return self.screens

    def _add_screenshot(self, what: str, action: Any) -> None:
        if not self._check_ready():
            return
        self.status.emit(f"Reading the {what}…")
        if self.controller.session is None:  # a screenshot before any session starts one, shown first
            self.session_started.emit(self.controller.start_session())
        try:
            result = action(self._screens())
        except Exception as exc:  # ScreenCaptureError, BadInput: words for the agent; the app goes on
            if exc.__class__.__name__ not in {"ScreenCaptureError", "BadInput"}:
                log.error("screenshot failed: %s", traceback.format_exc())
            self.error.emit(str(exc))
            self.status.emit("")
            return
        self.message_recorded.emit(result.turn.message)
        self.screenshot_added.emit(result)
        found = f"{len(result.entities)} details found" if result.entities else (result.note or "no details found")
        self.status.emit(f"Screenshot added ({found}; OCR {result.elapsed_ms['ocr'] / 1000:.1f} s)")

    @Slot(object)
    def take_screenshot(self, region: Any = None) -> None:
        """Grab the screen first and say so (the window hid itself for it and shows itself again), then read it."""
        from assist.capture.screenshot import capture_screen

        if not self._check_ready():
            self.screen_grabbed.emit()
            return
        try:
            image = capture_screen(region=tuple(region) if region else None)
        except Exception as exc:  # ScreenCaptureError: words for the agent
            if exc.__class__.__name__ != "ScreenCaptureError":
                log.error("screen capture failed: %s", traceback.format_exc())
            self.error.emit(str(exc))
            return
        finally:
            self.screen_grabbed.emit()
        self._add_screenshot("screen", lambda s: s.add(image))

    @Slot(str)
    def add_image_file(self, path: str) -> None:
        self._add_screenshot(f"image {path}", lambda s: s.add_file(path))

    @Slot(bytes)
    def add_image_bytes(self, data: bytes) -> None:
        self._add_screenshot("pasted image", lambda s: s.add_bytes(bytes(data)))

    # --- transcript import and live feeds -----------------------------------------------------

    def _emit_turn(self, turn: Any) -> None:
        self.message_recorded.emit(turn.message)
        if turn.insight is not None:
            self.insight_ready.emit(turn.insight)
        if getattr(self.controller, "procedures", None) is not None:
            self.checklist_changed.emit(self.controller.checklist())

    @Slot(str)
    def import_file(self, path: str) -> None:
        from assist.pipeline.feeds import import_transcript

        if not self._check_ready():
            return
        state = ProgressState(lambda f, m: self.status.emit(f"Importing {path}: {m} ({f:.0%})"))
        try:
            if self.controller.session is None:
                self.session_started.emit(self.controller.start_session(source="import"))
            summary = import_transcript(self.controller, path, state, self._emit_turn)
        except Exception as exc:  # FeedError: binary file, unreadable file
            self.error.emit(str(exc))
            self.status.emit("")
            return
        self.status.emit(f"Imported {summary.imported} messages from {path}"
                         + (" (cut at the import limit)" if summary.truncated else ""))
        if summary.problems:
            self.error.emit(f"Import of {path}: " + "; ".join(summary.problems[:5])
                            + (f" (and {len(summary.problems) - 5} more)" if len(summary.problems) > 5 else ""))

    def _hub(self) -> Any:
        if self.feeds is None:
            from assist.pipeline.feeds import FeedHub

            self.feeds = FeedHub(getattr(self, "config_dir", None))  # complete before it is visible
        if self._feed_timer is None:
            self._feed_timer = QTimer(self)
            self._feed_timer.setInterval(FEED_POLL_MS)
            self._feed_timer.timeout.connect(self._poll_feeds)
            self._feed_timer.start()
        return self.feeds

    @Slot(bool)
    def feed_socket(self, on: bool) -> None:
        if not self._check_ready():
            return
        try:
            if on:
                port, _ = self._hub().start_socket(getattr(self, "feed_port", 0))
                self.status.emit(f"Chat feed listening on 127.0.0.1:{port} (chat_feed.json and the token in "
                                 f"{self.feeds.token_dir})")
            elif self.feeds is not None and self.feeds.server is not None:
                self.feeds.stop_socket()
                self.status.emit("Chat feed stopped")
        except Exception as exc:
            self.error.emit(f"The chat feed could not start: {exc}")

    @Slot(str)
    def follow_file(self, path: str) -> None:
        if not self._check_ready():
            return
        try:
            if path:
                self._hub().follow_file(path)
                self.status.emit(f"Following {path}")
            elif self.feeds is not None:
                self.feeds.stop_file()
        except Exception as exc:
            self.error.emit(f"Cannot follow {path}: {exc}")

    @Slot()
    def _poll_feeds(self) -> None:
        if self.feeds is None or self.controller is None:
            return
        if self.feeds.pending and self.controller.session is None:  # the window shows the session first
            self.session_started.emit(self.controller.start_session(source="feed"))
        self.feeds.drain(self.controller, self._feed_turn, self.error.emit, route=self.route)

    def stop_feeds(self) -> None:
        if self._feed_timer is not None:
            self._feed_timer.stop()
            self._feed_timer = None
        if self.feeds is not None:
            self.feeds.stop()
            self.feeds = None

    @Slot()
    def shutdown(self) -> None:
        """Before the thread stops: stop the call (keeping what was heard), the feeds, then the session; the call
        models still loading are waited for (a native library's thread cut off at exit aborts the process)."""
        later = getattr(self, "later_thread", None)
        if later is not None and later.is_alive():
            later.join(timeout=60)
        self.stop_call()
        self.stop_feeds()
        drafts = getattr(self.controller, "drafts", None)
        if drafts is not None:
            drafts.shutdown()
        self.end_session()
