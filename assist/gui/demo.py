"""Plays a scripted conversation through the real pipeline, one message after the result of the last."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from assist.paths import resource


def default_demo_path() -> Path:
    return resource("demo", "late_order.json")


class ScriptError(ValueError):
    """A demo script that cannot be played, said in words (which file, what is wrong)."""


def load_script(path: Path | None = None) -> list[tuple[str, str]]:
    """The (role, text) messages of a demo script: {"messages": [{"role": "customer"|"agent", "text": "..."}]}."""
    path = path or default_demo_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScriptError(f"The demo script {path} does not exist.") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ScriptError(f"The demo script {path} is not a JSON text file ({type(exc).__name__}: {exc}"[:300]
                          + ").") from None
    except OSError as exc:
        raise ScriptError(f"The demo script {path} could not be read ({exc}).") from None
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list) or not messages:
        raise ScriptError(f"The demo script {path} has no \"messages\" list: expected "
                          '{"messages": [{"role": "customer", "text": "..."}, ...]}.')
    script = []
    for number, message in enumerate(messages, start=1):
        role = message.get("role") if isinstance(message, dict) else None
        text = message.get("text") if isinstance(message, dict) else None
        if role not in ("customer", "agent") or not isinstance(text, str) or not text.strip():
            raise ScriptError(f"Message {number} of the demo script {path} needs a \"role\" (customer or agent) "
                              'and a non-empty "text".')
        script.append((role, text))
    return script


class DemoPlayer(QObject):
    """Sends each message, waits for its result (message, insight or error), then the next."""

    send = Signal(str, str)
    finished = Signal()
    load_failed = Signal(str)

    def __init__(self, script: list[tuple[str, str]], delay_ms: int = 900) -> None:
        super().__init__()
        self.script = list(script)
        self.delay_ms = delay_ms
        self.position = 0
        self._waiting_for: str | None = None

    def start(self, session: object = None) -> None:
        QTimer.singleShot(0, self._next)

    def _next(self) -> None:
        if self.position >= len(self.script):
            self.finished.emit()
            return
        role, text = self.script[self.position]
        self.position += 1
        self._waiting_for = "insight" if role == "customer" else "message"
        self.send.emit(role, text)

    def _advance(self, kind: str) -> None:
        if self._waiting_for in (kind, "any"):
            self._waiting_for = None
            QTimer.singleShot(self.delay_ms, self._next)

    def on_message(self, message: object) -> None:
        self._advance("message")

    def on_insight(self, insight: object) -> None:
        self._advance("insight")

    def on_error(self, message: str) -> None:
        self._waiting_for = "any"
        self._advance("any")


class CallDemo(QObject):
    """``assist demo --call``: relays the worker's end-of-call and load failure to the GUI thread."""

    finished = Signal(object)  # capture statistics ({} when the call could not start)
    load_failed = Signal(str)

    def on_stopped(self, stats: object) -> None:
        self.finished.emit(stats)

    def on_load_failed(self, message: str) -> None:
        self.load_failed.emit(message)
