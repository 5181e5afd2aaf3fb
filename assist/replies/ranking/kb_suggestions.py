"""Knowledge-base hits worded as replies the agent could send: as candidates for ranking, or as suggestions."""

from __future__ import annotations

import hashlib

from assist.domain import EmotionEstimate, Suggestion
from assist.replies.kb.retriever import Hit
from assist.replies.ranking.candidates import Candidate, kb_candidate
from assist.replies.ranking.tone import ACKNOWLEDGEMENTS, tone_of

PROCEDURE_SECTIONS = ("Summary", "Steps", "Suggested reply")  # an ABCD procedure cites the procedure


def acknowledgement(emotion: EmotionEstimate | None) -> str:
    """An opening line in proportion to the customer's feeling: an apology when angry, sympathy when sad,
    reassurance when afraid, gladness when delighted (empty when none is clear)."""
    return ACKNOWLEDGEMENTS.get(tone_of(emotion), "")


def citation(hit: Hit) -> str:
    """Where a reply comes from: the article, and its section when the passage is one part of a longer one."""
    if hit.section and hit.section not in PROCEDURE_SECTIONS and hit.section != hit.entry.title:
        return f"{hit.entry.title} › {hit.section}"
    return hit.entry.title


def kb_reply(hit: Hit, emotion: EmotionEstimate | None) -> str:
    """A hit's reply as the agent would send it: the acknowledgement first when the customer is upset."""
    return f"{acknowledgement(emotion)} {hit.entry.reply}".strip()


def kb_candidates(hits: list[Hit], emotion: EmotionEstimate | None) -> list[Candidate]:
    """The knowledge base's hits as candidates for ranking with the macros (relevance: the retrieval score)."""
    return [kb_candidate(hit.entry.id, citation(hit), kb_reply(hit, emotion), hit.score) for hit in hits]


def make_suggestions(hits: list[Hit], emotion: EmotionEstimate | None, message_id: str) -> tuple[Suggestion, ...]:
    """The hits as suggestions in retrieval order, without ranking (a controller with no reply service)."""
    suggestions = []
    for hit in hits:
        text = kb_reply(hit, emotion)
        digest = hashlib.sha1(f"{message_id}:{hit.entry.id}".encode()).hexdigest()[:16]
        suggestions.append(
            Suggestion(id=digest, text=text, source_title=citation(hit), score=round(hit.score, 4),
                       kb_entry_id=hit.entry.id)
        )
    return tuple(suggestions)
