"""Chat text from outside the window: transcript files, a tailed JSON-lines file, the localhost socket feed.

The feed threads only put messages on a queue (their callbacks never touch the controller); the pipeline's
thread drains it with :meth:`FeedHub.drain` and submits each message like a typed one (kind ``feed``), so
one thread owns the session as for everything else. A message that names its ``conversation`` goes to that
conversation's own session (``route``): two chats at once never merge into one session.

While the socket listens, ``chat_feed.json`` in the config folder tells other tools where it is (host, port, the
token file, the protocol version and this process's id); it is removed when the feed stops.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assist.capture.chat_feed import (
    TOKEN_FILE,
    ChatFeedServer,
    FeedMessage,
    JsonlFileTailer,
    load_or_create_token,
    parse_transcript,
)
from assist.capture.errors import FeedBusy
from assist.domain import EventKind, ProgressState
from assist.paths import user_config_dir
from assist.pipeline.controller import SessionController, Turn

DISCOVERY_FILE = "chat_feed.json"
QUEUE_CAPACITY = 10_000  # fed messages waiting for the pipeline; beyond it the socket answers "busy, retry"
MAX_PROBLEMS = 200  # problem notices kept for the window (apart from the messages)
PROTOCOL_VERSION = 2  # 2: conversation, agent and ticket labels on each record


def config_dir() -> Path:
    return user_config_dir()


@dataclass
class ImportSummary:
    imported: int
    analysed: int
    problems: list[str]
    truncated: bool


def import_transcript(controller: SessionController, path: str | Path, state: ProgressState | None = None,
                      on_turn: Callable[[Turn], None] = lambda turn: None) -> ImportSummary:
    """Add a transcript file's messages to the session (kind ``import``); bad lines are listed, not fatal."""
    result = parse_transcript(Path(path))
    state = state or ProgressState()
    problems = list(result.problems)
    if controller.session is None:
        controller.start_session(source="import")
    done = analysed = 0
    for index, message in enumerate(result.messages):
        if state.is_cancelled():
            problems.append(f"Import stopped after {done} of {len(result.messages)} messages.")
            break
        try:
            turn = controller.submit(message.role, message.text, kind=EventKind.IMPORT, meta=_meta(message))
        except Exception as exc:  # BadInput for one message: note it, go on
            problems.append(f"Message {index + 1} skipped: {exc}")
            continue
        done += 1
        analysed += turn.insight is not None
        on_turn(turn)
        state.set_progress((index + 1) / max(1, len(result.messages)), f"imported {index + 1} messages")
    return ImportSummary(done, analysed, problems, result.truncated)


def _meta(message: FeedMessage) -> dict[str, Any]:
    meta: dict[str, Any] = {"source": message.source}
    if message.external_id is not None:
        meta["external_id"] = message.external_id
    if message.sent_at is not None:
        meta["sent_at"] = message.sent_at
    for key in ("conversation", "ticket", "agent"):
        if getattr(message, key):
            meta[key] = getattr(message, key)
    return meta


class FeedHub:
    """The live feeds of one app: at most one socket server and one tailed file."""

    def __init__(self, token_dir: Path | None = None, capacity: int = QUEUE_CAPACITY) -> None:
        self.token_dir = token_dir or config_dir()
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=capacity)  # messages only
        self._problems: collections.deque[str] = collections.deque(maxlen=MAX_PROBLEMS)  # apart: never crowd
        self.problems_dropped = 0  # out messages; the oldest notices give way, counted and said
        self._closing = threading.Event()
        self.token: str | None = None
        self.server: ChatFeedServer | None = None
        self.tailer: JsonlFileTailer | None = None

    def _offer(self, message: FeedMessage) -> None:
        """A socket message: queued, or refused with FeedBusy (the client hears "busy, retry") when the pipeline is
        far behind. Acknowledged means queued: nothing acknowledged is dropped."""
        try:
            self._queue.put_nowait(("message", message))
        except queue.Full:
            raise FeedBusy("the app is busy; retry") from None

    def _wait_put(self, message: FeedMessage) -> None:
        """A tailed file's message: the tailer waits for room (back-pressure on reading the file, no loss)."""
        while not self._closing.is_set():
            try:
                self._queue.put(("message", message), timeout=0.25)
                return
            except queue.Full:
                continue

    def _problem(self, text: str) -> None:
        if len(self._problems) == self._problems.maxlen:
            self.problems_dropped += 1
        self._problems.append(text)

    def start_socket(self, port: int = 0) -> tuple[int, str]:
        """Listen on 127.0.0.1; returns (port, token). Raises FeedError (port taken...)."""
        if self.server is None:
            token = load_or_create_token(self.token_dir)
            server = ChatFeedServer(self._offer, self._problem,
                                    token=token, port=port)
            server.start()
            # published complete: another thread that sees ``server`` also sees its token and a listening socket
            self.token = token
            self.server = server
            self._write_discovery(server.port)
        assert self.token is not None
        return self.server.port, self.token

    @property
    def discovery_path(self) -> Path:
        return self.token_dir / DISCOVERY_FILE

    def _write_discovery(self, port: int) -> None:
        """Where the feed listens, for the chat tool to find it (not secret: the token stays in its own file)."""
        doc = {"host": "127.0.0.1", "port": port, "token_file": str(self.token_dir / TOKEN_FILE),
               "protocol": PROTOCOL_VERSION, "pid": os.getpid(), "started_at": time.time()}
        tmp = self.discovery_path.with_name(DISCOVERY_FILE + ".tmp")
        try:
            tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
            tmp.replace(self.discovery_path)
        except OSError:  # the feed works without it; the status bar still shows the port
            pass

    def stop_socket(self) -> None:
        """Stop listening (queued messages stay for ``drain``)."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()
            try:
                self.discovery_path.unlink(missing_ok=True)
            except OSError:
                pass

    def follow_file(self, path: str | Path) -> None:
        self.stop_file()
        tailer = JsonlFileTailer(Path(path), self._wait_put, self._problem)
        tailer.start()
        self.tailer = tailer  # published once it is reading

    def stop_file(self) -> None:
        if self.tailer is not None:
            self.tailer.stop()
            self.tailer = None

    def stop(self) -> None:
        self._closing.set()  # a tailer waiting for room gives up
        self.stop_file()
        self.stop_socket()

    @property
    def pending(self) -> bool:
        """Messages or problems are waiting for ``drain``."""
        return not self._queue.empty() or bool(self._problems)

    @property
    def active(self) -> bool:
        return self.server is not None or self.tailer is not None or self.pending

    def drain(self, controller: SessionController, on_turn: Callable[[Turn], None],
              on_problem: Callable[[str], None], limit: int = 50,
              route: Callable[[FeedMessage], SessionController] | None = None) -> int:
        """Submit up to ``limit`` queued messages (kind ``feed``); report problems. Returns how many were taken.
        ``route`` picks the controller of a message's conversation (default: ``controller`` for all)."""
        while self._problems:
            on_problem(f"Chat feed: {self._problems.popleft()}")
        if self.problems_dropped:
            dropped, self.problems_dropped = self.problems_dropped, 0
            on_problem(f"Chat feed: {dropped} more problems (the oldest) were not shown.")
        taken = 0
        while taken < limit:
            try:
                _, item = self._queue.get_nowait()
            except queue.Empty:
                break
            taken += 1
            try:
                target = route(item) if route is not None else controller
                if target.session is None:
                    target.start_session(agent=item.agent, source="feed")
                on_turn(target.submit(item.role, item.text, kind=EventKind.FEED, meta=_meta(item)))
            except Exception as exc:
                on_problem(f"Chat feed message not used: {exc}")
        return taken


__all__ = ["DISCOVERY_FILE", "PROTOCOL_VERSION", "FeedHub", "ImportSummary", "config_dir", "import_transcript"]
