"""Turn retrieved knowledge-base entries into replies the agent could send."""

from __future__ import annotations

import hashlib

from assist.domain import EmotionEstimate, Suggestion
from assist.replies.retrieval import Hit

ACKNOWLEDGEMENTS = {
    "anger": "I'm really sorry about this, and I understand how frustrating it is.",
    "sadness": "I'm sorry to hear that, and I'm here to help.",
    "fear": "I understand this is worrying. Let's sort it out together.",
}
ACK_MIN_CONFIDENCE = 0.35


def acknowledgement(emotion: EmotionEstimate | None) -> str:
    """An opening line when the customer is angry, sad or afraid (empty otherwise)."""
    if emotion is None:
        return ""
    label = max(ACKNOWLEDGEMENTS, key=lambda k: emotion.probabilities.get(k, 0.0))
    if emotion.probabilities.get(label, 0.0) < ACK_MIN_CONFIDENCE:
        return ""
    return ACKNOWLEDGEMENTS[label]


def make_suggestions(hits: list[Hit], emotion: EmotionEstimate | None, message_id: str) -> tuple[Suggestion, ...]:
    ack = acknowledgement(emotion)
    suggestions = []
    for hit in hits:
        text = f"{ack} {hit.entry.reply}".strip()
        digest = hashlib.sha1(f"{message_id}:{hit.entry.id}".encode()).hexdigest()[:16]
        suggestions.append(
            Suggestion(id=digest, text=text, source_title=hit.entry.title, score=round(hit.score, 4),
                       kb_entry_id=hit.entry.id)
        )
    return tuple(suggestions)
