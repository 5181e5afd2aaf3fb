"""Generative drafts for a customer turn: a local language model writes a reply from the retrieved passages only.

Present only when a model is configured (settings ``llm``, or a folder in ``models/llm``); without one there is
no draft at all. One draft at a time: the next message (either side) cancels the running one, and a time budget
cuts a slow one short. Each draft runs on its own thread and reports through ``on_update`` (text so far; then
the finished text with its check: cited passages, and any refund, amount or time frame the passages do not say).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assist.replies.drafting import Passage, build_prompt, check_draft

log = logging.getLogger("assist.drafts")

TIME_BUDGET_S = 20.0
MAX_NEW_TOKENS = 160


@dataclass(frozen=True)
class DraftUpdate:
    """The draft for one customer message: text so far, or (``done``) the finished draft and its check."""

    message_id: str
    text: str
    done: bool = False
    warning: str = ""  # the check's words for the agent ("Check before sending: ...")
    note: str = ""  # how it ended when not by itself (cancelled, time budget, length limit) or why it failed
    sources: tuple[str, ...] = ()  # titles of the passages it cites, in citation order
    first_token_s: float | None = None
    model: str = ""


def passages_from_hits(hits: Sequence[Any]) -> list[Passage]:
    """The retrieved KB hits as numbered passages for the prompt (the passage text, or the article's reply)."""
    passages = []
    for hit in hits:
        entry = hit.entry
        title = f"{entry.title} › {hit.section}" if getattr(hit, "section", "") else entry.title
        text = entry.summary or entry.reply
        if entry.steps:
            text += "\n" + "\n".join(entry.steps)
        passages.append(Passage(entry.id, title, text))
    return passages


class DraftService:
    """Starts, streams and cancels drafts; ``on_update`` is called from the drafting thread."""

    def __init__(self, llm: Any, on_update: Callable[[DraftUpdate], None] = lambda update: None,
                 time_budget_s: float = TIME_BUDGET_S, max_new_tokens: int = MAX_NEW_TOKENS) -> None:
        self.llm = llm
        self.on_update = on_update
        self.time_budget_s = time_budget_s
        self.max_new_tokens = max_new_tokens
        self._lock = threading.Lock()
        self._cancel: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def describe(self) -> str:
        return str(self.llm.describe()) if hasattr(self.llm, "describe") else str(getattr(self.llm, "name", "model"))

    def start(self, message_id: str, customer_turns: Sequence[str], hits: Sequence[Any],
              emotion_label: str | None = None, intent_label: str | None = None) -> None:
        """Draft a reply to the latest customer turn (cancelling any draft still running)."""
        passages = passages_from_hits(hits)
        prompt = build_prompt(list(customer_turns), passages, emotion_label, intent_label)
        cancel = threading.Event()
        thread = threading.Thread(target=self._run, args=(message_id, prompt, passages, list(customer_turns), cancel),
                                  name="assist-draft", daemon=True)
        with self._lock:
            if self._cancel is not None:
                self._cancel.set()
            self._cancel, self._thread = cancel, thread
        thread.start()

    def cancel(self) -> None:
        """Stop the running draft (its last update says it was cancelled)."""
        with self._lock:
            if self._cancel is not None:
                self._cancel.set()

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Cancel and wait for the drafting thread; True when it has stopped."""
        self.cancel()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            return not thread.is_alive()
        return True

    def _run(self, message_id: str, prompt: Any, passages: list[Passage], turns: list[str],
             cancel: threading.Event) -> None:
        model = getattr(self.llm, "name", "")
        text = ""
        try:
            with self.llm.stream(prompt, self.max_new_tokens, self.time_budget_s, cancel) as stream:
                for chunk in stream:
                    text += chunk
                    self.on_update(DraftUpdate(message_id, text.strip(), model=model))
            result = stream.result
        except Exception as exc:  # noqa: BLE001 - the model's own failures: say so on the card, keep running
            log.warning("draft failed: %s", exc)
            self.on_update(DraftUpdate(message_id, text.strip(), done=True, note=f"draft failed: {exc}", model=model))
            return
        final = result.text if result is not None else text.strip()
        check = check_draft(final, passages, turns)
        sources = tuple(passages[i - 1].title for i in check.citations if 0 < i <= len(passages))
        note = result.note if result is not None else ""
        warning = check.warning() if final else ""
        self.on_update(DraftUpdate(message_id, final, done=True, warning=warning, note=note, sources=sources,
                                   first_token_s=result.first_token_s if result is not None else None, model=model))


__all__ = ["DraftService", "DraftUpdate", "passages_from_hits"]
