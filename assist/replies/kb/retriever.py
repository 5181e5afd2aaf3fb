"""Replies from the SQLite knowledge base: the store's hybrid search, turned into entries the reply code words.

``StoreRetriever.search`` takes a turn's text (and its embedding when it stands for the query) and returns
``Hit``s. Each hit is one article (its best
passage); its reply is the article's own "Suggested reply" section where it has one (ABCD procedures, Assist's
general entries), otherwise the opening sentences of the matched passage, and the citation names the section.
The query is conversation-aware: a short customer turn ("yes, still nothing") is read with the previous one, and
the last screenshot's status words and error codes join it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assist.domain import ScreenEntity
from assist.replies.kb.entries import KBEntry

DENSE_WEIGHT = 0.8  # a hit's relevance: 0.8 dense cosine + 0.2 BM25 (normalised to [0, 1] per query)
REPLY_SECTION = "Suggested reply"
SHORT_TURN_WORDS = 6  # a customer turn shorter than this is searched together with the previous one
SCREEN_TERMS = ("status", "error_code", "product")  # screenshot entities that say what the problem is about
REPLY_MAX_CHARS = 320
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_MARKUP = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#+\s*|>\s*)")


@dataclass(frozen=True)
class Hit:
    """One knowledge-base article found for a customer turn: its entry (with the reply), relevance and section."""

    entry: KBEntry
    score: float
    dense: float
    bm25: float
    section: str = ""  # the passage's heading, when the hit is a chunk of a longer article


def conversation_query(message: str, previous_customer_turns: Sequence[str] = (),
                       entities: Sequence[ScreenEntity] = ()) -> tuple[str, bool]:
    """What to search the KB for, and whether it is more than the message (then the message's own embedding no
    longer stands for it). The latest turn comes first; a short one is read with the turn before, and what the
    last screenshot says went wrong (status words, error codes, the product) is added. The intent label is not:
    on the labelled KB queries it lowered hit@3 (0.879 -> 0.862), the ranker weighs intent instead."""
    parts = [message]
    if len(message.split()) < SHORT_TURN_WORDS and previous_customer_turns and previous_customer_turns[0].strip():
        parts.append(previous_customer_turns[0].strip())
    seen = message.lower()
    for entity in entities:
        value = entity.value.strip()
        if entity.kind in SCREEN_TERMS and value and value.lower() not in seen:
            parts.append(value.replace("_", " "))
            seen += " " + value.lower()
    return " ".join(parts), len(parts) > 1


def passage_reply(passage: str, max_chars: int = REPLY_MAX_CHARS) -> str:
    """The opening sentences of a passage as a reply: list markers and heading marks dropped, two sentences
    at most, cut at a word boundary when still too long."""
    lines = [_MARKUP.sub("", line).replace("**", "").replace("__", "").strip() for line in passage.splitlines()]
    text = re.sub(r"\s+", " ", " ".join(line for line in lines if line)).strip()
    sentences = _SENTENCE.split(text)
    reply = ""
    for sentence in sentences[:2]:
        if reply and len(reply) + len(sentence) > max_chars:
            break
        reply = f"{reply} {sentence}".strip()
    if len(reply) > max_chars:
        reply = reply[:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return reply


class StoreRetriever:
    """Search a ``KnowledgeStore`` for one customer turn; one hit per article, best passage first."""

    def __init__(self, store: Any, candidates_per_hit: int = 4) -> None:
        self.store = store
        self.candidates_per_hit = candidates_per_hit
        self._described: tuple[int, str] = (-1, "")

    @property
    def ready(self) -> bool:
        return True

    def describe(self) -> str:
        """"N articles, M passages" — in every Insight's model versions, so counted again only after a write
        (counting took ~4 ms a message with 5,000 passages)."""
        generation = getattr(self.store, "generation", None)
        if generation is None or generation != self._described[0]:
            stats = self.store.stats()
            self._described = (generation if generation is not None else -1,
                               f"{stats['articles']} articles, {stats['chunks']} passages")
        return self._described[1]

    def search(self, text: str, embedding: np.ndarray | None = None, k: int = 3) -> list[Hit]:
        chunks = self.store.search(text, query_embedding=embedding, k=k, max_per_article=1)
        if not chunks:
            return []
        replies = self.store.section_texts([c.article_id for c in chunks], REPLY_SECTION)
        top_bm25 = max((c.bm25 or 0.0) for c in chunks) or 1.0
        hits = []
        for chunk in chunks:
            dense = float(chunk.dense) if chunk.dense is not None else 0.0
            bm25 = float(chunk.bm25 or 0.0) / top_bm25
            # the ranker weighs KB hits against macros by relevance: the same 0.8 dense + 0.2 BM25 mix as before
            score = DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * bm25
            reply = replies.get(chunk.article_id) or passage_reply(chunk.text)
            entry = KBEntry(id=chunk.article_id, title=chunk.title, category=chunk.category,
                            summary=chunk.text if chunk.section != REPLY_SECTION else "", steps=(), reply=reply)
            hits.append(Hit(entry, score, dense, bm25, section=chunk.section))
        return hits


__all__ = ["DENSE_WEIGHT", "Hit", "StoreRetriever", "conversation_query", "passage_reply"]
