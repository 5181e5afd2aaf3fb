"""Stdlib-only dataclasses that cross module boundaries.

Every timestamp is taken per object through ``field(default_factory=...)``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

EKMAN_EMOTIONS: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "joy",
    "neutral",
    "sadness",
    "surprise",
)
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")


def _now() -> float:
    return time.time()


def _new_id() -> str:
    return uuid.uuid4().hex


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"


class EscalationLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class FeedbackAction(StrEnum):
    INSERTED = "inserted"  # put in the message box: not yet used (the agent may still edit or delete it)
    COPIED = "copied"  # to the clipboard, for another tool: counted as used
    DISMISSED = "dismissed"
    SENT = "sent"  # the inserted reply was sent as it was
    EDITED_SENT = "edited_sent"  # the inserted reply was sent after the agent edited it


USED_ACTIONS = (FeedbackAction.SENT.value, FeedbackAction.EDITED_SENT.value, FeedbackAction.COPIED.value)


def used_suggestions(feedback: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Suggestion id -> how it was used, from (suggestion id, action) pairs in the order recorded: sent (as it was
    or edited) or copied. A session recorded before Assist told inserting from sending (no "sent" or "edited_sent"
    at all) counts its inserted replies as used, as it did then."""
    rows = list(feedback)
    told_apart = any(action in (FeedbackAction.SENT, FeedbackAction.EDITED_SENT) for _, action in rows)
    used = USED_ACTIONS if told_apart else (*USED_ACTIONS, FeedbackAction.INSERTED.value)
    return {suggestion: action for suggestion, action in rows if action in used}


@dataclass(frozen=True)
class Session:
    id: str = field(default_factory=_new_id)
    started_at: float = field(default_factory=_now)
    agent: str = ""
    redaction_enabled: bool = True
    source: str = "chat"
    team: str = ""


class EventKind(StrEnum):
    CHAT = "chat"  # typed or pasted by the agent
    UTTERANCE = "utterance"  # spoken on the call, transcribed
    IMPORT = "import"  # from a transcript file
    FEED = "feed"  # pushed by another tool (tailed file, localhost socket)
    SCREENSHOT = "screenshot"  # the OCR text of a screenshot the agent captured


@dataclass(frozen=True)
class ChatMessage:
    """One turn of the conversation from either side: typed, spoken, imported, fed, or read off a screenshot.

    ``meta`` carries what the kind adds (an utterance's start/end seconds and recogniser, a screenshot's
    file and entities); it is stored as JSON with the event.
    """

    session_id: str
    role: Role
    text: str
    id: str = field(default_factory=_new_id)
    created_at: float = field(default_factory=_now)
    kind: EventKind = EventKind.CHAT
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmotionEstimate:
    """A probability distribution over the 7 Ekman classes."""

    probabilities: dict[str, float]

    @property
    def label(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]


@dataclass(frozen=True)
class LabelEstimate:
    """A single-label estimate (sentiment, intent) with its distribution."""

    label: str
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Escalation:
    level: EscalationLevel
    score: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    id: str
    text: str
    source_title: str
    score: float
    kb_entry_id: str = ""  # the KB entry, or "macro:<id>" for a reply-bank macro
    reason: str = ""  # why it is suggested ("matches KB: Refund policy; fills order id")


@dataclass(frozen=True)
class Insight:
    """What the engines concluded about one customer message."""

    session_id: str
    message_id: str
    emotion: EmotionEstimate
    sentiment: LabelEstimate
    intent: LabelEstimate
    escalation: Escalation
    suggestions: tuple[Suggestion, ...]
    model_versions: dict[str, str]
    timings_ms: dict[str, float]
    notes: tuple[str, ...] = ()
    device: str = "cpu"
    id: str = field(default_factory=_new_id)
    created_at: float = field(default_factory=_now)
    # per head, how much each input (text, context, voice, screen) moved the top class (fusion model)
    contributions: dict[str, dict[str, float]] = field(default_factory=dict)
    # what the customer wants done by the end of the conversation (``intent`` is this turn's own reading)
    conversation_intent: LabelEstimate | None = None

    @property
    def goal(self) -> LabelEstimate:
        """The intent the window, the replies and the checklist act on: the conversation's, else the turn's."""
        return self.conversation_intent or self.intent

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["emotion"]["label"] = self.emotion.label
        data["emotion"]["confidence"] = self.emotion.confidence
        data["escalation"]["level"] = self.escalation.level.value
        return data


@dataclass(frozen=True)
class ScreenEntity:
    """Something the agent can act on, read off a screenshot: ``kind`` is order_id, ticket_id, account_id,
    error_code, amount, date, product or status; ``value`` is normalised (ids upper-case, amounts "59.99 USD",
    dates ISO). The screen reader finds them; the KB query, macro placeholders and the checklist use them."""

    kind: str
    value: str

    def to_dict(self) -> dict[str, str]:
        """As stored with a screenshot event in the journal (JSON)."""
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def from_dict(cls, item: Mapping[str, object]) -> ScreenEntity:
        return cls(str(item.get("kind", "")), str(item.get("value", "")))


@dataclass(frozen=True)
class Feedback:
    session_id: str
    suggestion_id: str
    action: FeedbackAction
    id: str = field(default_factory=_new_id)
    created_at: float = field(default_factory=_now)


__all__ = [
    "EKMAN_EMOTIONS",
    "SENTIMENTS",
    "ChatMessage",
    "EmotionEstimate",
    "Escalation",
    "EscalationLevel",
    "EventKind",
    "Feedback",
    "FeedbackAction",
    "Insight",
    "ProgressState",
    "LabelEstimate",
    "Role",
    "ScreenEntity",
    "USED_ACTIONS",
    "Session",
    "Suggestion",
    "used_suggestions",
]


class ProgressState:
    """Progress / cancel handle for one-off jobs (training, indexing, loading).

    A job calls ``set_progress(fraction, message)`` and polls ``is_cancelled()``; the owner
    (CLI progress bar, GUI signal adapter) passes ``on_progress`` and may call ``cancel()``.
    """

    def __init__(self, on_progress: "Callable[[float, str], None] | None" = None) -> None:
        self._on_progress = on_progress
        self._cancelled = False

    def set_progress(self, fraction: float, message: str = "") -> None:
        if self._on_progress is not None:
            self._on_progress(max(0.0, min(1.0, fraction)), message)

    def cancel(self) -> None:
        self._cancelled = True

    def is_cancelled(self) -> bool:
        return self._cancelled
