"""The message every chat source yields, and the one place records are validated and speakers mapped.

A record (a JSON line in a file or on the socket, an item of a JSON array) is an object:

    {"role": "customer", "text": "Where is my order?", "id": "m-17", "sent_at": "2024-03-15T10:31:00Z"}

- the speaker is read from ``role``, ``speaker`` or ``from``; the text from ``text``, ``message`` or
  ``content``; ``id``/``external_id`` and ``sent_at``/``timestamp`` (epoch seconds or ISO 8601) are optional;
- ``conversation`` (the chat tool's conversation id: messages of different conversations go to different
  sessions), ``agent`` and ``ticket`` are optional labels (a string or a number, at most 100 characters);
- speaker names map to the two roles through ``SPEAKER_ROLES`` (case-insensitive, spaces/underscores
  folded): customer <- customer, client, user, caller, visitor, guest, end user;
  agent <- agent, support, rep, representative, advisor, adviser, operator, staff, csr.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from assist.capture.errors import FeedError
from assist.domain import Role

FeedSource = Literal["import", "file", "socket"]
MAX_TEXT_CHARS = 20_000  # one message longer than this is cut
MAX_LINE_BYTES = 64 * 1024  # a live-feed line (file or socket) longer than this is refused

SPEAKER_ROLES: dict[str, Role] = {
    **dict.fromkeys(("customer", "client", "user", "caller", "visitor", "guest", "end user"), Role.CUSTOMER),
    **dict.fromkeys(("agent", "support", "rep", "representative", "advisor", "adviser", "operator", "staff",
                     "csr"), Role.AGENT),
}
_ROLE_KEYS = ("role", "speaker", "from")
_TEXT_KEYS = ("text", "message", "content")
_ID_KEYS = ("id", "external_id")
_TIME_KEYS = ("sent_at", "timestamp")
MAX_LABEL_CHARS = 100
_LATEST_EPOCH = 1e11  # later than this is milliseconds (or nonsense), not seconds


@dataclass(frozen=True)
class FeedMessage:
    """One chat message from an external source, before it becomes a session's ChatMessage."""

    role: Role
    text: str
    source: FeedSource
    received_at: float = field(default_factory=time.time)
    external_id: str | None = None
    sent_at: float | None = None
    conversation: str = ""  # the chat tool's conversation id: each conversation is its own session ("" = current)
    agent: str = ""  # the agent the chat tool says handles it (optional)
    ticket: str = ""  # the chat tool's ticket or case id (optional)

    def to_record(self) -> dict[str, Any]:
        """The JSON object a feed accepts for this message."""
        record: dict[str, Any] = {"role": self.role.value, "text": self.text}
        if self.external_id is not None:
            record["id"] = self.external_id
        if self.sent_at is not None:
            record["sent_at"] = self.sent_at
        for key in ("conversation", "agent", "ticket"):
            if getattr(self, key):
                record[key] = getattr(self, key)
        return record


def role_from_speaker(speaker: str) -> Role | None:
    """The role for a speaker name ("Client", "support"), or None if it is not one we know."""
    return SPEAKER_ROLES.get(" ".join(speaker.lower().replace("_", " ").split()))


def message_from_record(record: Any, source: FeedSource) -> FeedMessage:
    """Validate one decoded JSON record; raise FeedError with a short reason if it is not a message."""
    if not isinstance(record, Mapping):
        raise FeedError("not a JSON object")
    speaker = next((record[k] for k in _ROLE_KEYS if k in record), None)
    if not isinstance(speaker, str):
        raise FeedError("missing role" if speaker is None else "role is not a string")
    role = role_from_speaker(speaker)
    if role is None:
        raise FeedError(f"unknown role {speaker[:40]!r} (expected customer or agent)")
    text = next((record[k] for k in _TEXT_KEYS if k in record), None)
    if not isinstance(text, str):
        raise FeedError("missing text" if text is None else "text is not a string")
    text = clean_text(text)
    if not text:
        raise FeedError("empty text")
    external_id = next((record[k] for k in _ID_KEYS if record.get(k) is not None), None)
    if external_id is not None and (isinstance(external_id, bool) or not isinstance(external_id, str | int)):
        raise FeedError("id is not a string")
    sent = next((record[k] for k in _TIME_KEYS if record.get(k) is not None), None)
    return FeedMessage(role, text[:MAX_TEXT_CHARS], source,
                       external_id=None if external_id is None else str(external_id)[:200],
                       sent_at=None if sent is None else _timestamp(sent), conversation=_label(record, "conversation"),
                       agent=_label(record, "agent"), ticket=_label(record, "ticket"))


def _label(record: Mapping[str, Any], key: str) -> str:
    """An optional short label (conversation, agent, ticket id): a string or a number, one line, at most 100."""
    value = record.get(key)
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FeedError(f"{key} is not a string")
    text = " ".join(str(value).split())
    if not text or len(text) > MAX_LABEL_CHARS:
        raise FeedError(f"{key} must be 1 to {MAX_LABEL_CHARS} characters")
    return text


def clean_text(text: str) -> str:
    """Trim a message, drop trailing spaces on each line and replace lone surrogates (from JSON escapes)."""
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _timestamp(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 0 <= value < _LATEST_EPOCH:  # also false for NaN
            raise FeedError("sent_at is not a time in epoch seconds")
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).timestamp()
        except (ValueError, OverflowError, OSError):
            pass
    raise FeedError("sent_at is not a time (epoch seconds or ISO 8601)")
