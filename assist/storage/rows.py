"""Domain objects -> ready-to-run SQL writes, redacted before they ever reach the queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from assist.domain import ChatMessage, Feedback, Insight, Session
from assist.storage.redaction import redact

Statement = tuple[str, tuple[Any, ...]]

INSERT_SESSION = (
    "INSERT INTO sessions (id, started_at, ended_at, agent, source, redaction_enabled, app_version, team) "
    "VALUES (?, ?, NULL, ?, ?, ?, ?, ?)"
)
# an end said by the app wins over a "crash" mark put by another start (two windows on one journal)
END_SESSION = ("UPDATE sessions SET ended_at = ?, capture = CASE WHEN json_valid(capture) "
               "THEN json_remove(capture, '$.ended_by') ELSE capture END WHERE id = ?")
# sessions an app that stopped without ending them left open: closed at their last event, marked as such
CLOSE_INTERRUPTED = (
    "UPDATE sessions SET ended_at = max(started_at, coalesce((SELECT max(e.created_at) FROM events e "
    "WHERE e.session_id = sessions.id), started_at)), "
    "capture = json_set(CASE WHEN json_valid(capture) THEN capture ELSE '{}' END, '$.ended_by', 'crash') "
    "WHERE ended_at IS NULL")
INSERT_EVENT = (
    "INSERT INTO events (id, session_id, kind, role, text, created_at, redactions, meta) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
CAPTURE_STATS = "UPDATE sessions SET capture = ? WHERE id = ?"
INSERT_INSIGHT = (
    "INSERT INTO insights (id, session_id, message_id, created_at, emotion, emotion_confidence, emotion_probs, "
    "sentiment, sentiment_confidence, sentiment_probs, intent, intent_confidence, intent_probs, "
    "escalation_level, escalation_score, escalation_reasons, model_versions, timings_ms, device, notes, "
    "contributions, conversation_intent, conversation_intent_confidence) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_SUGGESTION = (
    "INSERT INTO suggestions (id, insight_id, session_id, rank, text, source_title, kb_entry_id, score) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_FEEDBACK = "INSERT INTO feedback (id, session_id, suggestion_id, action, created_at) VALUES (?, ?, ?, ?, ?)"


@dataclass(frozen=True)
class WriteOp:
    """One queued unit of work, written in a single transaction; ``label`` names it in errors."""

    label: str
    statements: tuple[Statement, ...]

    @property
    def rows(self) -> int:
        return len(self.statements)


def clean_text(text: object) -> str:
    """A str SQLite can store: lone surrogates (undecodable input) become U+FFFD."""
    if not isinstance(text, str):
        text = text.decode("utf-8", "replace") if isinstance(text, bytes | bytearray) else str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def scrub(text: object, redaction: bool) -> tuple[str, dict[str, int]]:
    """Clean ``text`` and, when ``redaction`` is on, replace personal data; returns the counts too."""
    cleaned = clean_text(text)
    if not redaction:
        return cleaned, {}
    result = redact(cleaned)
    return result.text, result.counts


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _value(enum_or_str: Any) -> str:
    return str(getattr(enum_or_str, "value", enum_or_str))


def session_op(session: Session, redaction: bool, app_version: str) -> WriteOp:
    params = (session.id, float(session.started_at), clean_text(session.agent), clean_text(session.source),
              int(redaction), app_version, clean_text(session.team))  # fmt: skip
    return WriteOp(f"session {session.id}", ((INSERT_SESSION, params),))


def end_session_op(session_id: str, ended_at: float) -> WriteOp:
    return WriteOp(f"end of session {session_id}", ((END_SESSION, (float(ended_at), session_id)),))


def message_op(msg: ChatMessage, redaction: bool) -> WriteOp:
    text, counts = scrub(msg.text, redaction)
    meta = _scrub_meta(msg.meta, redaction)
    params = (msg.id, msg.session_id, _value(msg.kind), _value(msg.role), text, float(msg.created_at),
              to_json(counts), to_json(meta))  # fmt: skip
    return WriteOp(f"{_value(msg.kind)} {msg.id}", ((INSERT_EVENT, params),))


def _scrub_meta(value: Any, redaction: bool) -> Any:
    """Strings inside an event's metadata (OCR'd entities...) are redacted like its text."""
    if isinstance(value, str):
        return scrub(value, redaction)[0]
    if isinstance(value, dict):
        return {str(k): _scrub_words(v, redaction) if k == "words" else _scrub_meta(v, redaction)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_meta(v, redaction) for v in value]
    return value


def _scrub_words(words: Any, redaction: bool) -> Any:
    """An utterance's word timings [(word, start, end), ...]. Personal data spans words (a card number is four),
    so redaction reads the words joined; when it finds anything, only the timings are kept."""
    if not redaction or not isinstance(words, list | tuple):
        return _scrub_meta(words, redaction)
    if not words or not all(isinstance(w, list | tuple) and len(w) == 3 for w in words):
        return _scrub_meta(words, redaction)
    _, counts = scrub(" ".join(str(w[0]) for w in words), redaction)
    if counts:
        return [[None, w[1], w[2]] for w in words]
    return [[clean_text(w[0]), w[1], w[2]] for w in words]


# the speaker of a message, corrected by the agent: the event's role changes and its meta keeps what it was and when
CORRECT_ROLE = ("UPDATE events SET role = ?, meta = json_set(coalesce(meta, '{}'), '$.role_corrected', "
                "json_object('from', role, 'at', ?)) WHERE id = ?")


def role_correction_op(message_id: str, role: str, at: float) -> WriteOp:
    return WriteOp(f"speaker of {message_id}", ((CORRECT_ROLE, (clean_text(role), float(at), message_id)),))


def capture_stats_op(session_id: str, stats: dict[str, Any]) -> WriteOp:
    return WriteOp(f"capture statistics of {session_id}", ((CAPTURE_STATS, (to_json(stats), session_id)),))


def insight_op(insight: Insight, redaction: bool) -> WriteOp:
    """The insight row followed by one row per suggestion (rank 1 = best)."""
    reasons = [scrub(reason, redaction)[0] for reason in insight.escalation.reasons]
    notes = [scrub(note, redaction)[0] for note in insight.notes]
    emotion = insight.emotion
    label, confidence = (emotion.label, float(emotion.confidence)) if emotion.probabilities else ("", 0.0)
    params = (
        insight.id, insight.session_id, insight.message_id, float(insight.created_at),
        label, confidence, to_json(emotion.probabilities),
        insight.sentiment.label, float(insight.sentiment.confidence), to_json(insight.sentiment.probabilities),
        insight.intent.label, float(insight.intent.confidence), to_json(insight.intent.probabilities),
        _value(insight.escalation.level), float(insight.escalation.score), to_json(reasons),
        to_json(insight.model_versions), to_json(insight.timings_ms), clean_text(insight.device), to_json(notes),
        to_json(insight.contributions),
        insight.conversation_intent.label if insight.conversation_intent else "",
        float(insight.conversation_intent.confidence) if insight.conversation_intent else 0.0,
    )  # fmt: skip
    statements: list[Statement] = [(INSERT_INSIGHT, params)]
    for rank, suggestion in enumerate(insight.suggestions, start=1):
        text, _ = scrub(suggestion.text, redaction)
        statements.append((INSERT_SUGGESTION, (
            suggestion.id, insight.id, insight.session_id, rank, text,
            clean_text(suggestion.source_title), clean_text(suggestion.kb_entry_id), float(suggestion.score),
        )))  # fmt: skip
    return WriteOp(f"insight {insight.id}", tuple(statements))


def feedback_op(fb: Feedback) -> WriteOp:
    params = (fb.id, fb.session_id, fb.suggestion_id, _value(fb.action), float(fb.created_at))
    return WriteOp(f"feedback {fb.id}", ((INSERT_FEEDBACK, params),))


__all__ = ["WriteOp", "capture_stats_op", "clean_text", "end_session_op", "feedback_op", "insight_op", "message_op", "scrub", "session_op"]
