"""Ranking candidate replies (macros and KB suggestions) for one customer message, each with a short reason.

score = relevance * W.relevance                      relevance in [0, 1] (KB: retrieval score; macros: MacroMatcher)
      + intent_fit * W.intent                        intent_fit = +confidence when the candidate lists the predicted
                                                     intent, -W.intent_mismatch * confidence when it lists only others
      + upset * empathy * W.empathy                  upset = P(anger)+P(sadness)+P(fear) when >= 0.35, else 0;
                                                     an empathetic reply (tag "empathy" or an apology/acknowledgement
                                                     in its first sentence) gets +upset; when calm it gets -W.calm_apology
      + terse * shortness * W.brevity                terse: 1 for <= 4 words, 0 from 12; shortness in [-1, 1]
                                                     (a 0-word reply 1, 25 words 0, 50+ words -1)
      + feedback * W.feedback                        in [-1, 1], see feedback_signal()
      + W.fill * filled - W.missing * missing        placeholders filled / left for the agent (3 at most each)
      + situation                                    set by ranking.tone (security replies for a security concern)

feedback_signal: for one set of counts (shown, accepted, edited, dismissed),
    rate = (accepted + 0.7 * edited + K * p) / (accepted + edited + 2 * dismissed + 0.3 * ignored + K)
with prior p = 0.5, K = 4 (one click nudges, a habit decides; an edited-then-sent reply is mostly right) and ignored = shown - accepted - edited - dismissed: no history gives the prior,
a dismissal counts twice and a suggestion shown but ignored 0.3 times. signal = rate - p scaled to [-1, 1], mixed over
    0.5 this agent for this intent + 0.2 this agent overall + 0.2 team for this intent + 0.1 team overall.
Counts are plain dicts {key: {"shown": n, ...}}, keyed by the candidate key and by "key|intent"
(record_feedback() keeps both). Ties break on the candidate key, so the ranking is deterministic.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from assist.domain import EmotionEstimate, Suggestion
from assist.replies.macros.bank import Macro
from assist.replies.macros.fill import FillContext, fill
from assist.replies.search import BM25, tokenize

EmbedFn = Callable[[list[str]], np.ndarray]
FeedbackCounts = Mapping[str, Mapping[str, int]]
UPSET_EMOTIONS = ("anger", "sadness", "fear")
UPSET_MIN = 0.35
_EMPATHY = re.compile(r"\b(sorry|apologi[sz]e|apologies|understand (?:your|how|that)|frustrat\w*|i hear you|"
                      r"that must be|i can imagine)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
# inserting alone says nothing yet (the agent may delete it): what was sent, edited and sent, or copied counts
ACTION_COUNTS = {"shown": "shown", "accepted": "accepted", "inserted": "inserted", "copied": "accepted",
                 "sent": "accepted", "edited": "edited", "edited_sent": "edited", "dismissed": "dismissed"}


@dataclass(frozen=True)
class RankWeights:
    """The weights of the score (see the module docstring); tune here, not in the code."""

    relevance: float = 1.0
    intent: float = 0.4
    intent_mismatch: float = 0.3
    empathy: float = 0.6
    calm_apology: float = 0.1
    brevity: float = 0.4
    feedback: float = 0.8
    fill: float = 0.03
    missing: float = 0.05
    edited_credit: float = 0.7
    prior: float = 0.5
    prior_strength: float = 4.0
    dismiss_weight: float = 2.0
    ignore_weight: float = 0.3
    sources: tuple[float, float, float, float] = (0.5, 0.2, 0.2, 0.1)  # agent|intent, agent, team|intent, team


@dataclass(frozen=True)
class Candidate:
    """A reply that could be suggested; ``key`` names it in the feedback history ("macro:<id>", "kb:<id>")."""

    key: str
    text: str
    source_title: str
    kind: str  # "macro" | "kb"
    relevance: float = 0.0
    intents: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    filled: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    source_id: str = ""  # the macro id or KB entry id
    situation: float = 0.0  # fits the situation (ranking.tone: a security reply for a security concern)
    situation_note: str = ""


@dataclass(frozen=True)
class RankContext:
    """The customer message being answered and what the engines said about it."""

    message: str
    previous_turns: Sequence[str] = ()  # earlier customer turns, latest first
    intent: str = ""
    intent_confidence: float = 0.0
    emotion: EmotionEstimate | None = None


@dataclass(frozen=True)
class RankedReply:
    candidate: Candidate
    score: float
    rank: int
    explanation: str
    contributions: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.candidate.key

    @property
    def text(self) -> str:
        return self.candidate.text

    def to_suggestion(self, message_id: str) -> Suggestion:
        """As a domain Suggestion (kb_entry_id: the KB entry id, or the candidate key for a macro)."""
        digest = hashlib.sha1(f"{message_id}:{self.key}".encode()).hexdigest()[:16]
        entry = self.candidate.source_id if self.candidate.kind == "kb" else self.key
        return Suggestion(id=digest, text=self.text, source_title=self.candidate.source_title,
                          score=round(self.score, 4), kb_entry_id=entry)


# A reply that says an action is already done ("I've sent a reset link", "Done: I've cancelled your order") is never
# suggested: the agent has not done it when the customer's turn arrives (LABELS.md, a good reply). The agent can still
# insert such a macro from the reply bank once it is done.
CLAIMS_DONE = re.compile(r"\bI(?:'ve| have) (?:already |just |now )?(?:(?!been\b|got\b|had\b|seen\b)[a-z]+ed|sent|done|"
                         r"put|set|reset|made|taken|given|written|spoken|rung|paid|sorted|booked)\b", re.IGNORECASE)


def claims_done(text: str) -> bool:
    """The reply tells the customer an action is already done."""
    return bool(CLAIMS_DONE.search(text))


# --- candidates ---------------------------------------------------------------------------------------
def _strip_placeholders(text: str) -> str:
    return re.sub(r"\{[A-Za-z_][A-Za-z0-9_]*\}", " ", text)


class MacroMatcher:
    """How well each macro matches a message: BM25 (saturated to [0, 1]), mixed with cosine when ``embed`` is given."""

    BM25_HALF = 4.0  # the BM25 score that counts as relevance 0.5
    DENSE_WEIGHT = 0.8  # as in kb/retriever.py, so macro and KB relevance are on one scale

    def __init__(self, macros: Sequence[Macro], embed: EmbedFn | None = None) -> None:
        self.macros = list(macros)
        docs = [" ".join([m.title, m.title, _strip_placeholders(m.text), *m.tags,
                          *(i.replace("_", " ") for i in m.intents)]) for m in self.macros]
        self._bm25 = BM25(docs) if docs else None
        self._embed = embed
        self._vectors: np.ndarray | None = None
        if embed is not None and docs:
            vectors = np.asarray(embed(docs), dtype=np.float32)
            self._vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)

    def relevance(self, message: str, previous_turns: Sequence[str] = (),
                  query_embedding: np.ndarray | None = None) -> np.ndarray:
        """Relevance in [0, 1] of every macro; the message counts twice as much as earlier turns."""
        if self._bm25 is None:
            return np.zeros(0)
        tokens = tokenize(message) * 2 + [t for turn in previous_turns[:2] for t in tokenize(turn)]
        scores = self._bm25.scores(tokens)
        lexical = scores / (scores + self.BM25_HALF)
        if self._vectors is None or self._embed is None:
            return lexical
        if query_embedding is None:
            query_embedding = np.asarray(self._embed([message]), dtype=np.float32)[0]
        query = query_embedding / max(float(np.linalg.norm(query_embedding)), 1e-9)
        dense = np.clip(self._vectors @ query.astype(np.float32), 0.0, 1.0)
        return self.DENSE_WEIGHT * dense + (1 - self.DENSE_WEIGHT) * lexical

    def candidates(self, context: RankContext, fill_context: FillContext | None = None,
                   query_embedding: np.ndarray | None = None, limit: int = 20) -> list[Candidate]:
        """The ``limit`` most relevant macros (and any listing the intent), filled from ``fill_context``."""
        relevance = self.relevance(context.message, context.previous_turns, query_embedding)
        order = sorted(range(len(self.macros)), key=lambda i: (-relevance[i], self.macros[i].id))
        chosen = set(order[:limit]) | {i for i, m in enumerate(self.macros) if context.intent in m.intents}
        return [macro_candidate(self.macros[i], float(relevance[i]), fill_context) for i in sorted(chosen)]


def macro_candidate(macro: Macro, relevance: float, fill_context: FillContext | None = None) -> Candidate:
    """A macro as a candidate, its placeholders filled (unfilled ones marked for the agent)."""
    filled = fill(macro.text, fill_context or FillContext())
    return Candidate(key=f"macro:{macro.id}", text=filled.text, source_title=macro.title, kind="macro",
                     relevance=relevance, intents=macro.intents, tags=macro.tags, filled=tuple(filled.filled),
                     missing=tuple(filled.missing), source_id=macro.id)


def kb_candidate(entry_id: str, title: str, text: str, score: float, intents: Sequence[str] = ()) -> Candidate:
    """A KB-derived reply as a candidate (``score``: its retrieval score)."""
    return Candidate(key=f"kb:{entry_id}", text=text, source_title=title, kind="kb", relevance=float(score),
                     intents=tuple(intents), source_id=entry_id)


# --- feedback -------------------------------------------------------------------------------------------
def record_feedback(counts: MutableMapping[str, dict[str, int]], key: str, action: str, intent: str = "") -> None:
    """Count one event ("shown", "accepted"/"inserted"/"copied", "edited", "dismissed") for key and key|intent."""
    column = ACTION_COUNTS.get(str(action))
    if column is None:
        raise ValueError(f"unknown feedback action {action!r}")
    for name in (key, f"{key}|{intent}") if intent else (key,):
        row = counts.setdefault(name, {})
        row[column] = row.get(column, 0) + 1


def _counts(row: Mapping[str, int] | None) -> tuple[int, int, int, int]:
    row = row or {}
    accepted, edited, dismissed = (int(row.get(k, 0)) for k in ("accepted", "edited", "dismissed"))
    return max(int(row.get("shown", 0)), accepted + edited + dismissed), accepted, edited, dismissed


def feedback_signal(row: Mapping[str, int] | None, weights: RankWeights = RankWeights()) -> float:
    """Smoothed acceptance rate against the prior, in [-1, 1] (0 without history)."""
    shown, accepted, edited, dismissed = _counts(row)
    ignored = shown - accepted - edited - dismissed
    p, k = weights.prior, weights.prior_strength
    rate = (accepted + weights.edited_credit * edited + k * p) / (
        accepted + edited + weights.dismiss_weight * dismissed + weights.ignore_weight * ignored + k)
    return (rate - p) / p if rate <= p else (rate - p) / (1 - p)


def _feedback(key: str, intent: str, agent: FeedbackCounts, team: FeedbackCounts, w: RankWeights) -> float:
    rows = (agent.get(f"{key}|{intent}") if intent else None, agent.get(key),
            team.get(f"{key}|{intent}") if intent else None, team.get(key))
    return sum(weight * feedback_signal(row, w) for weight, row in zip(w.sources, rows))


def _feedback_note(key: str, intent: str, agent: FeedbackCounts, team: FeedbackCounts) -> str:
    for who, counts in (("", agent), ("team ", team)):
        for name in ((f"{key}|{intent}", key) if intent else (key,)):
            shown, accepted, edited, dismissed = _counts(counts.get(name))
            if accepted + edited:
                return f"{who}accepted {accepted + edited} of {shown} times"
            if dismissed:
                return f"{who}dismissed {dismissed} time{'s' if dismissed > 1 else ''}"
    return ""


# --- scoring ---------------------------------------------------------------------------------------------
def upset_level(emotion: EmotionEstimate | None) -> float:
    """P(anger) + P(sadness) + P(fear) when that reaches UPSET_MIN, else 0."""
    if emotion is None:
        return 0.0
    level = sum(emotion.probabilities.get(e, 0.0) for e in UPSET_EMOTIONS)
    return min(1.0, level) if level >= UPSET_MIN else 0.0


def is_empathetic(candidate: Candidate) -> bool:
    """Tagged "empathy", or the reply opens with an apology or acknowledgement."""
    first = _SENTENCE_END.split(candidate.text.strip(), maxsplit=1)[0]
    return "empathy" in candidate.tags or bool(_EMPATHY.search(first))


def terseness(message: str) -> float:
    """1 for a message of <= 4 words, falling to 0 at 12 words."""
    return float(np.clip((12 - len(message.split())) / 8, 0.0, 1.0))


def shortness(text: str) -> float:
    """1 for an empty reply, 0 at 25 words, -1 from 50 words."""
    return float(np.clip(1 - len(text.split()) / 25, -1.0, 1.0))


def _human(label: str) -> str:
    return label.replace("_", " ")


def score_candidate(c: Candidate, context: RankContext, agent: FeedbackCounts, team: FeedbackCounts,
                    w: RankWeights) -> tuple[float, dict[str, float], list[str]]:
    """The weighted sum for one candidate, its parts, and the reasons worth telling the agent."""
    parts: dict[str, float] = {"relevance": w.relevance * c.relevance}
    notes = [f"matches KB: {c.source_title}" if c.kind == "kb" else f"macro: {c.source_title}"]
    if context.intent and c.intents:
        if context.intent in c.intents:
            parts["intent"] = w.intent * context.intent_confidence
            notes.append(f"fits intent {_human(context.intent)}")
        else:
            parts["intent"] = -w.intent_mismatch * w.intent * context.intent_confidence
    if c.situation:
        parts["situation"] = c.situation
        if c.situation_note:
            notes.append(c.situation_note)
    upset, empathetic = upset_level(context.emotion), is_empathetic(c)
    if empathetic:
        parts["emotion"] = w.empathy * upset if upset else -w.calm_apology
        if upset:
            notes.append("acknowledges feelings first")
    terse = terseness(context.message)
    if terse:
        parts["brevity"] = w.brevity * terse * shortness(c.text)
        if parts["brevity"] > 0.1:
            notes.append("short reply for a short message")
    fb = _feedback(c.key, context.intent, agent, team, w)
    if fb:
        parts["feedback"] = w.feedback * fb
    if c.filled or c.missing:
        parts["placeholders"] = w.fill * min(len(c.filled), 3) - w.missing * min(len(c.missing), 3)
    if c.filled:
        notes.append("fills " + ", ".join(_human(n) for n in c.filled))
    if c.missing:
        notes.append("needs " + ", ".join(_human(n) for n in c.missing))
    if fb:
        notes.append(_feedback_note(c.key, context.intent, agent, team))
    return sum(parts.values()), {k: round(v, 4) for k, v in parts.items()}, [n for n in notes if n]


class ReplyRanker:
    """Orders candidates by the documented weighted sum; equal texts are shown once."""

    def __init__(self, weights: RankWeights | None = None) -> None:
        self.weights = weights or RankWeights()

    def rank(self, candidates: Sequence[Candidate], context: RankContext, agent_feedback: FeedbackCounts | None = None,
             team_feedback: FeedbackCounts | None = None, k: int | None = None) -> list[RankedReply]:
        """Best first; ``k`` keeps the top k."""
        agent, team = agent_feedback or {}, team_feedback or {}
        scored = []
        for c in candidates:
            score, parts, notes = score_candidate(c, context, agent, team, self.weights)
            scored.append((score, c, parts, notes))
        scored.sort(key=lambda s: (-round(s[0], 9), s[1].key))
        out: list[RankedReply] = []
        seen: set[str] = set()
        for score, c, parts, notes in scored:
            text_key = " ".join(c.text.lower().split())
            if text_key in seen or claims_done(c.text):
                continue
            seen.add(text_key)
            out.append(RankedReply(c, round(score, 6), len(out) + 1, "; ".join(notes), parts))
            if k is not None and len(out) >= k:
                break
        return out


def rank_replies(candidates: Sequence[Candidate], context: RankContext, agent_feedback: FeedbackCounts | None = None,
                 team_feedback: FeedbackCounts | None = None, k: int | None = None,
                 weights: RankWeights | None = None) -> list[RankedReply]:
    """ReplyRanker(weights).rank(...) in one call."""
    return ReplyRanker(weights).rank(candidates, context, agent_feedback, team_feedback, k)
