"""``assist eval conversations``: the labelled support conversations played through the window's own path.

Each conversation of ``resources/eval/conversations.jsonl`` (see its README) is played turn by turn through the
session controller the window runs (``pipeline.assembly.session_controller``: the app's engines, reply ranking,
the checklist), and every labelled customer turn's Insight is scored against its labels: emotion (accuracy,
macro-F1, the confusion matrix, the worst confusions with examples), sentiment, the conversation's intent,
escalation (an alert is a "high" escalation; "medium or high" is reported beside it) and the fit of the suggested
replies to the last customer turn.

Suggestion fit, judged automatically for every conversation's last customer turn: a suggestion fits when it breaks
none of the conversation's ``reply_rules.must_not`` (apologising or offering a refund to a delighted customer,
claiming an action the agent has not done, blaming the customer, asking for a full card number), meets its
``must`` rules that words can show (acknowledging joy, apologising, reassuring, security first), and is about
what the reference reply is about (cosine of their sentence embeddings, all-MiniLM-L6-v2, >= ``FIT_SIMILARITY``).
The turn counts as fitting when one of the top three suggestions fits.

How strict "about the same thing" is was measured on the references themselves: two references written for
different conversations with the same intent (both good replies about that intent) reach cosine 0.45 in only 39%
of pairs (median 0.40), while references for different intents pass 0.45 in 7% (median 0.26). The threshold that
best separates the two (Youden's J, 0.42) is 0.325: 72% of same-intent pairs and 30% of other-intent pairs pass it.
``FIT_SIMILARITY`` is that threshold; the figure at the first, stricter threshold (0.45, which would fail most
good replies not written for the very conversation) is reported beside it as ``suggestion_fit_strict``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS, EscalationLevel, Insight, ProgressState
from assist.inference.labels import INTENTS
from assist.paths import resource
from assist.replies.ranking.candidates import CLAIMS_DONE
from assist.training.metrics import classification_report

ESCALATION_REASONS = ("leave_threat", "legal_threat", "abuse", "repeated_contact", "vulnerable")
SPLITS = ("tune", "test")
FIT_SIMILARITY = 0.325  # Youden-optimal between same-intent and other-intent reference pairs (module docstring)
STRICT_SIMILARITY = 0.45
EXAMPLES_PER_CONFUSION = 3

RULE_PATTERNS: dict[str, re.Pattern[str]] = {
    "apologise": re.compile(r"\b(sorry|apolog\w*|regret)\b", re.I),
    "offer_refund": re.compile(r"\brefund\w*\b|\bmoney back\b|\breimburs\w*", re.I),
    "claim_action_done": CLAIMS_DONE,
    "blame_customer": re.compile(r"\byou (?:should have|shouldn't have|failed to|didn't read)\b|\byour (?:own )?fault\b",
                                 re.I),
    "ask_for_full_card_number": re.compile(r"\b(?:full|whole|complete|entire|long) card number\b|"
                                           r"\bcard number\b.*\bplease\b|\bsend (?:me|us) your card\b", re.I),
    "acknowledge_joy": re.compile(r"\b(glad|great to hear|wonderful|delighted|happy to hear|so happy|love to hear|"
                                  r"fantastic|brilliant|awesome|thrilled|that's great)\b", re.I),
    "reassure": re.compile(r"\b(don't worry|rest assured|you're in good hands|we'll (?:sort|fix|take care)|"
                           r"I understand|I can help|let's (?:sort|fix|get))\b", re.I),
    "security_first": re.compile(r"\b(secur\w*|lock\w*|freez\w*|block\w*|reset (?:your|the) password|"
                                 r"change your password|two-factor|2fa|verify|fraud team|unauthori[sz]ed)\b", re.I),
}


@dataclass
class Turn:
    role: str
    text: str
    labels: dict[str, Any] | None = None


@dataclass
class Conversation:
    id: str
    channel: str
    split: str
    turns: list[Turn]
    reference_reply: str
    reply_rules: dict[str, list[str]] = field(default_factory=dict)


class ConversationFileError(ValueError):
    """The conversations file is missing or a line breaks its format (said with the line and the problem)."""


def default_conversations_file() -> Path:
    return resource("eval", "conversations.jsonl")


def split_of(conversation_id: str) -> str:
    """The fixed tuning/test split: by a hash of the conversation's id (stable on any machine), half and half."""
    return SPLITS[int(hashlib.sha1(conversation_id.encode("utf-8")).hexdigest()[:8], 16) % 2]


def _check_labels(labels: dict[str, Any], where: str) -> None:
    checks = {"emotion": EKMAN_EMOTIONS, "sentiment": SENTIMENTS, "intent": INTENTS}
    for key, allowed in checks.items():
        if labels.get(key) not in allowed:
            raise ConversationFileError(f"{where}: {key} {labels.get(key)!r} is not one of ours")
    if not isinstance(labels.get("escalation"), bool):
        raise ConversationFileError(f"{where}: escalation must be true or false")
    reason = labels.get("escalation_reason")
    if labels["escalation"] != (reason is not None) or (reason is not None and reason not in ESCALATION_REASONS):
        raise ConversationFileError(f"{where}: escalation_reason {reason!r} does not match escalation")


def load_conversations(path: Path | None = None) -> list[Conversation]:
    """Read and check the conversations file (see ``resources/eval/README.md``)."""
    path = Path(path or default_conversations_file())
    if not path.is_file():
        raise ConversationFileError(f"No conversations file at {path}.")
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            raw = json.loads(line)
            turns = [Turn(t["role"], t["text"], t.get("labels")) for t in raw["turns"]]
            conv = Conversation(raw["id"], raw.get("channel", "chat"), raw.get("split") or split_of(raw["id"]), turns,
                                raw.get("reference_reply", ""), raw.get("reply_rules") or {})
        except (ValueError, KeyError, TypeError) as exc:
            raise ConversationFileError(f"{where}: not a conversation ({exc})") from exc
        for i, turn in enumerate(conv.turns):
            if turn.role not in ("customer", "agent"):
                raise ConversationFileError(f"{where}: turn {i + 1} has role {turn.role!r}")
            if turn.role == "customer":
                if not turn.labels:
                    raise ConversationFileError(f"{where}: customer turn {i + 1} has no labels")
                _check_labels(turn.labels, f"{where} turn {i + 1}")
        if conv.split not in SPLITS:
            raise ConversationFileError(f"{where}: split {conv.split!r} is not tune or test")
        out.append(conv)
    if len({c.id for c in out}) != len(out):
        raise ConversationFileError(f"{path.name}: conversation ids repeat")
    return out


@dataclass
class Played:
    """One labelled customer turn and what the window showed for it."""

    conversation: str
    turn: int
    text: str
    labels: dict[str, Any]
    insight: Insight
    last: bool


def conversation_intent(insight: Insight) -> str:
    """The intent the window uses for the conversation (the turn's own where the Insight has no other)."""
    intent = getattr(insight, "conversation_intent", None)
    return (intent or insight.intent).label


def play(conversation: Conversation, make_controller: Callable[[], Any]) -> list[Played]:
    """The conversation through a fresh session controller, turn by turn, as the window does."""
    controller = make_controller()
    controller.start_session(source="evaluation")
    played = []
    customer_turns = [i for i, t in enumerate(conversation.turns) if t.role == "customer"]
    try:
        for i, turn in enumerate(conversation.turns):
            result = controller.submit(turn.role, turn.text)
            if turn.role == "customer" and result.insight is not None and turn.labels:
                played.append(Played(conversation.id, i, turn.text, turn.labels, result.insight,
                                     i == customer_turns[-1]))
    finally:
        controller.end_session()
    return played


def rule_checks(text: str, rules: dict[str, list[str]]) -> list[str]:
    """The rules a suggestion breaks ("must_not: apologise", "must: security_first"...); [] when it keeps them all.
    "address_intent" is judged by similarity to the reference reply, not here."""
    broken = [f"must_not: {r}" for r in rules.get("must_not", []) if r in RULE_PATTERNS and RULE_PATTERNS[r].search(text)]
    broken += [f"must: {r}" for r in rules.get("must", []) if r in RULE_PATTERNS and not RULE_PATTERNS[r].search(text)]
    return broken


def suggestion_fit(played: Sequence[Played], conversations: dict[str, Conversation],
                   embed: Callable[[list[str]], np.ndarray]) -> dict[str, Any]:
    """Share of last customer turns where one of the top three suggestions fits (module docstring), at
    ``FIT_SIMILARITY`` and at ``STRICT_SIMILARITY``."""
    last = [p for p in played if p.last]
    fits, strict, details = 0, 0, []
    for p in last:
        conv = conversations[p.conversation]
        texts = [s.text for s in p.insight.suggestions[:3]]
        if not texts or not conv.reference_reply:
            details.append({"conversation": p.conversation, "fits": False, "why": "no suggestion"})
            continue
        vectors = embed([conv.reference_reply, *texts])
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        similarity = vectors[1:] @ vectors[0]
        verdicts = []
        for text, sim in zip(texts, similarity):
            broken = rule_checks(text, conv.reply_rules)
            if sim < FIT_SIMILARITY:
                broken.append(f"off topic (similarity {sim:.2f})")
            verdicts.append(broken)
        ok = any(not v for v in verdicts)
        fits += ok
        strict += any(not v and sim >= STRICT_SIMILARITY for v, sim in zip(verdicts, similarity))
        details.append({"conversation": p.conversation, "fits": ok,
                        "best_similarity": round(float(similarity.max()), 3),
                        "why": "" if ok else "; ".join(sorted({b for v in verdicts for b in v}))})
    n = max(1, len(last))
    return {"turns": len(last), "fit": round(fits / n, 4), "fit_strict": round(strict / n, 4),
            "similarity": FIT_SIMILARITY, "strict_similarity": STRICT_SIMILARITY, "details": details}


def _binary(gold: list[bool], pred: list[bool]) -> dict[str, float | int]:
    tp = sum(g and p for g, p in zip(gold, pred))
    fp = sum(p and not g for g, p in zip(gold, pred))
    fn = sum(g and not p for g, p in zip(gold, pred))
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return {"precision": round(precision, 4), "recall": round(recall, 4), "true_positives": tp,
            "false_positives": fp, "false_negatives": fn, "positives": sum(gold)}


def worst_confusions(played: Sequence[Played], limit: int = 8) -> list[dict[str, Any]]:
    """The most frequent wrong emotion readings, each with a few of its turns."""
    pairs: dict[tuple[str, str], list[Played]] = defaultdict(list)
    for p in played:
        if p.insight.emotion.label != p.labels["emotion"]:
            pairs[(p.labels["emotion"], p.insight.emotion.label)].append(p)
    ranked = sorted(pairs.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]
    return [{"gold": g, "read_as": r, "count": len(items),
             "examples": [{"conversation": p.conversation, "text": p.text[:200],
                           "confidence": round(p.insight.emotion.confidence, 3)}
                          for p in items[:EXAMPLES_PER_CONFUSION]]} for (g, r), items in ranked]


def score(played: Sequence[Played], conversations: dict[str, Conversation],
          embed: Callable[[list[str]], np.ndarray] | None = None) -> dict[str, Any]:
    """Every figure of the module docstring for these played turns."""
    emotion = classification_report([EKMAN_EMOTIONS.index(p.labels["emotion"]) for p in played],
                                    [EKMAN_EMOTIONS.index(p.insight.emotion.label) for p in played], EKMAN_EMOTIONS)
    sentiment = classification_report([SENTIMENTS.index(p.labels["sentiment"]) for p in played],
                                      [SENTIMENTS.index(p.insight.sentiment.label) for p in played], SENTIMENTS)
    intent_right = [conversation_intent(p.insight) == p.labels["intent"] for p in played]
    gold_escalation = [bool(p.labels["escalation"]) for p in played]
    high = [p.insight.escalation.level is EscalationLevel.HIGH for p in played]
    medium_or_high = [p.insight.escalation.level is not EscalationLevel.LOW for p in played]
    joy_as_anger = sum(p.labels["emotion"] == "joy" and p.insight.emotion.label in ("anger", "disgust") for p in played)
    missed = Counter(p.labels["escalation_reason"] for p, hit in zip(played, high) if p.labels["escalation"] and not hit)
    out: dict[str, Any] = {
        "turns": len(played),
        "conversations": len({p.conversation for p in played}),
        "summary": {
            "emotion_accuracy": emotion["accuracy"],
            "emotion_macro_f1": emotion["macro_f1"],
            "joy_read_as_anger_or_disgust": joy_as_anger,
            "sentiment_accuracy": sentiment["accuracy"],
            "sentiment_macro_f1": sentiment["macro_f1"],
            "conversation_intent_accuracy": round(sum(intent_right) / max(1, len(played)), 4),
            "escalation_precision": _binary(gold_escalation, high)["precision"],
            "escalation_recall": _binary(gold_escalation, high)["recall"],
        },
        "emotion": emotion,
        "sentiment": sentiment,
        "escalation_high": _binary(gold_escalation, high),
        "escalation_medium_or_high": _binary(gold_escalation, medium_or_high),
        "escalations_missed_by_reason": dict(sorted(missed.items())),
        "worst_emotion_confusions": worst_confusions(played),
        "intent_errors": [{"conversation": p.conversation, "text": p.text[:160], "gold": p.labels["intent"],
                           "read_as": conversation_intent(p.insight)}
                          for p, ok in zip(played, intent_right) if not ok][:25],
    }
    if embed is not None:
        fit = suggestion_fit(played, conversations, embed)
        out["summary"]["suggestion_fit"] = fit["fit"]
        out["summary"]["suggestion_fit_strict"] = fit["fit_strict"]
        out["suggestion_fit"] = fit
    return out


def evaluate_conversations(engines: Any, path: Path | None = None, split: str = "test",
                           state: ProgressState | None = None,
                           make_controller: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Play the conversations of ``split`` ("tune", "test" or "all") and score them."""
    from assist.pipeline.assembly import session_controller

    state = state or ProgressState()
    conversations = [c for c in load_conversations(path) if split == "all" or c.split == split]
    if not conversations:
        raise ConversationFileError(f"No conversations in the {split!r} split.")
    make = make_controller or (lambda: session_controller(engines))
    played: list[Played] = []
    for i, conv in enumerate(conversations, start=1):
        played += play(conv, make)
        state.set_progress(i / len(conversations), f"conversation {i} of {len(conversations)}")
    report = score(played, {c.id: c for c in conversations}, engines.text.embed)
    channels = Counter(c.channel for c in conversations)
    return {"file": str(path or default_conversations_file()), "split": split, "channels": dict(channels),
            "versions": played[0].insight.model_versions if played else {}, **report}


__all__ = ["Conversation", "ConversationFileError", "evaluate_conversations", "load_conversations", "play",
           "rule_checks", "score", "split_of", "suggestion_fit"]
