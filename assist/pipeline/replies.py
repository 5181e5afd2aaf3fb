"""Suggested replies for one customer turn: knowledge-base replies and the team's macros, ranked together.

Candidates are the KB replies retrieval found (worded by ``replies.ranking.kb_suggestions``) and the reply bank's macros,
filled from the latest screenshot's entities and the conversation; ``replies.ranker`` orders them by
relevance, intent, the customer's emotion, terseness and what this agent accepted or dismissed before.
Feedback counts start from the journal's history and grow with every suggestion shown and every action.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from assist.domain import EmotionEstimate, LabelEstimate, ScreenEntity, Suggestion
from assist.replies.kb.retriever import Hit
from assist.replies.macros.fill import FillContext
from assist.replies.ranking.candidates import (
    MacroMatcher,
    RankContext,
    macro_candidate,
    rank_replies,
    record_feedback,
)
from assist.replies.ranking.kb_suggestions import kb_candidates
from assist.replies.ranking.tone import fit_situation, fit_to_turn

log = logging.getLogger("assist.replies")

SHOWN = 3


class ReplyService:
    def __init__(self, bank: Any = None, feedback: dict[str, dict[str, int]] | None = None) -> None:
        self.matcher: MacroMatcher | None = None
        self.reload(bank)
        self.counts: dict[str, dict[str, int]] = feedback if feedback is not None else {}
        self.shown: dict[str, tuple[str, str]] = {}  # suggestion id -> (candidate key, intent)

    def reload(self, bank: Any) -> None:
        """Rank the bank's current macros (after an edit or an import); feedback counts are kept by macro id."""
        macros = list(bank.macros) if bank is not None else []
        self.matcher = MacroMatcher(macros) if macros else None

    def suggest(self, message_id: str, text: str, previous_customer_turns: list[str], intent: LabelEstimate,
                emotion: EmotionEstimate, hits: list[Hit], entities: Sequence[ScreenEntity]) -> tuple[Suggestion, ...]:
        """The best ``SHOWN`` replies, each with its reason (``Suggestion.reason``)."""
        candidates = kb_candidates(hits, None)  # worded for the turn below, with the macros
        context = RankContext(message=text, previous_turns=previous_customer_turns, intent=intent.label,
                              intent_confidence=intent.confidence, emotion=emotion)
        if self.matcher is not None:
            fill_context = FillContext(entities=entities, conversation=[text, *previous_customer_turns])
            found = self.matcher.candidates(context, fill_context, limit=8)
            candidates += found + self._favourites(context, fill_context, {c.key for c in found})
        # in proportion to the feeling, security first (replies.ranking.tone)
        fitted = (fit_to_turn(c, emotion, text, intent.label, previous_customer_turns) for c in candidates)
        candidates = [fit_situation(c, emotion, text, previous_customer_turns) for c in fitted if c is not None]
        ranked = rank_replies(candidates, context, self.counts, None, k=SHOWN)
        out = []
        for reply in ranked:
            suggestion = replace(reply.to_suggestion(message_id), reason=reply.explanation)
            self.shown[suggestion.id] = (reply.key, intent.label)
            record_feedback(self.counts, reply.key, "shown", intent.label)
            out.append(suggestion)
        return tuple(out)

    def _favourites(self, context: RankContext, fill_context: FillContext, have: set[str]) -> list[Any]:
        """Macros this agent used for this intent are candidates even when their words match less well:
        otherwise a habit could never lift a macro that retrieval alone leaves out."""
        if self.matcher is None:
            return []
        used = {key.split("|")[0] for key, row in self.counts.items()
                if key.startswith("macro:") and key.endswith(f"|{context.intent}")
                and row.get("accepted", 0) + row.get("edited", 0) > 0}
        wanted = [i for i, m in enumerate(self.matcher.macros) if f"macro:{m.id}" in used - have]
        if not wanted:
            return []
        relevance = self.matcher.relevance(context.message, context.previous_turns)
        return [macro_candidate(self.matcher.macros[i], float(relevance[i]), fill_context) for i in wanted]

    def feedback(self, suggestion_id: str, action: str) -> None:
        """The agent used or dismissed a suggestion: the next rankings take it into account."""
        shown = self.shown.get(suggestion_id)
        if shown is not None:
            record_feedback(self.counts, shown[0], action, shown[1])


def feedback_history(journal_path: Path | None) -> dict[str, dict[str, int]]:
    """Counts per candidate key (and key|intent) from the journal's suggestions and feedback; {} without one."""
    counts: dict[str, dict[str, int]] = {}
    if journal_path is None or not Path(journal_path).is_file():
        return counts
    from assist.storage import StorageError
    from assist.storage.reader import JournalReader

    try:
        with JournalReader(journal_path) as reader:
            shown, actions = reader.suggestion_history()
    except StorageError as exc:  # an unreadable journal: rank without history, say why in the log
        log.warning("reply feedback history not read: %s", exc)
        return counts
    for key, intent in shown:
        record_feedback(counts, _key(key), "shown", intent or "")
    for key, intent, action in actions:
        try:
            record_feedback(counts, _key(key), action, intent or "")
        except ValueError:
            continue
    return counts


def _key(kb_entry_id: str) -> str:
    return kb_entry_id if kb_entry_id.startswith("macro:") else f"kb:{kb_entry_id}"


__all__ = ["ReplyService", "feedback_history"]
