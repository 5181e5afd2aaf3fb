"""Problems of the live chat feeds (the localhost socket and the tailed file) reach the window named once:
"Chat feed: <what happened>", never "Chat feed: Chat feed: ..."."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assist.capture.chat_feed import send_messages
from assist.capture.errors import FeedError
from assist.pipeline.feeds import FeedHub


class _NoSession:
    """Stands in for the controller: only problems are queued here, so draining must never touch it."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the controller was used ({name}) while draining problems")


def test_socket_and_file_problems_are_prefixed_once(tmp_path: Path) -> None:
    hub = FeedHub(tmp_path / "config")
    said: list[str] = []
    feed = tmp_path / "chat.jsonl"
    feed.write_text("", encoding="utf-8")
    try:
        port, token = hub.start_socket()
        with pytest.raises(FeedError):
            send_messages(port, "wrong token", [{"role": "customer", "text": "hi"}])
        assert send_messages(port, token, [{"role": "bot", "text": "hi"}])[0]["ok"] is False
        hub.follow_file(feed)
        with feed.open("a", encoding="utf-8") as out:
            out.write("{broken\n" + json.dumps({"role": "customer", "text": ""}) + "\n")
        deadline = time.monotonic() + 10
        while len(said) < 4 and time.monotonic() < deadline:
            hub.drain(_NoSession(), lambda turn: None, said.append)
            time.sleep(0.02)
    finally:
        hub.stop()
    assert len(said) == 4, said
    assert all(text.startswith("Chat feed: ") and text.count("Chat feed") == 1 for text in said), said
    assert "Chat feed: a connection was refused (bad or missing token)." in said
    assert any(text.startswith("Chat feed: a line was refused: ") and "bot" in text for text in said), said
    assert any(text.startswith("Chat feed: chat.jsonl line 1: not valid JSON") for text in said), said


def test_a_full_queue_refuses_with_busy_retry_and_never_drops_what_it_acknowledged(tmp_path: Path) -> None:
    """Issue 18 (2): when the pipeline is far behind the socket answers "busy, retry" instead of acknowledging and
    dropping; failed logins do not take message room; a tailed file waits for room instead of losing lines."""
    hub = FeedHub(tmp_path / "config", capacity=5)

    feed = tmp_path / "chat.jsonl"
    feed.write_text("", encoding="utf-8")
    taken: list[str] = []

    class Controller:
        session = object()

        def submit(self, role, text, **_):
            taken.append(text)
            return text

    try:
        port, token = hub.start_socket()
        for _ in range(3):  # failed logins: problems, kept apart from the messages
            with pytest.raises(FeedError):
                send_messages(port, "wrong", [{"role": "customer", "text": "x"}])
        replies = send_messages(port, token, [{"role": "customer", "text": f"m{i}"} for i in range(8)])
        acknowledged = [f"m{i}" for i, r in enumerate(replies) if r["ok"]]
        assert len(acknowledged) == 5 and all(r == {"ok": False, "error": "busy, retry"} for r in replies[5:])
        hub.follow_file(feed)
        with feed.open("a", encoding="utf-8") as out:
            out.write("".join(json.dumps({"role": "customer", "text": f"f{i}"}) + "\n" for i in range(4)))
        said: list[str] = []
        deadline = time.monotonic() + 10
        while len(taken) < 9 and time.monotonic() < deadline:
            hub.drain(Controller(), lambda turn: None, said.append)
            time.sleep(0.05)
    finally:
        hub.stop()
    assert taken[:5] == acknowledged and sorted(taken[5:]) == ["f0", "f1", "f2", "f3"], taken
    assert sum("refused" in s for s in said) >= 1 and len(taken) == 9
