"""Escalation risk: a documented, additive rule over the model's outputs and the wording.

score = 0.35*P(anger) + 0.15*P(disgust) + 0.20*P(negative)
      + 0.15*P(complaint) + 0.25*P(contact_human_agent)
      + 0.30 legal threat + 0.25 threat to cancel/leave + 0.25 abuse
      + 0.10 repeated contact ("third time", "still not") + 0.10 shouting (caps, "!!!")
      + 0.10 when the previous two customer turns were also negative
clipped to [0, 1]; high >= 0.60, medium >= 0.35, else low. Every term that fires adds a reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assist.domain import Escalation, EscalationLevel

HIGH, MEDIUM = 0.60, 0.35

_PATTERNS: dict[str, tuple[float, re.Pattern[str]]] = {
    "legal threat": (0.30, re.compile(
        r"\b(lawyers?|attorneys?|sue|suing|lawsuit|legal action|court|small claims|ombudsman|"
        r"trading standards|better business bureau|bbb|consumer protection|chargeback|report you)\b", re.I)),
    "threat to cancel or leave": (0.25, re.compile(
        r"\b(cancel+(ing)? (my|the|this) (account|subscription|membership|order|contract|service)|"
        r"close my account|take my business|switch(ing)? to (another|a different|your competitor)|"
        r"never (buy|order|shop)\w* (from|with|here)|done with (you|this company)|leaving you)\b", re.I)),
    "abusive language": (0.25, re.compile(
        r"\b(f+u+c+k\w*|shit\w*|bullshit|crap|damn|idiots?|stupid|morons?|useless|incompetent|"
        r"pathetic|scam+(er|ers)?|thie(f|ves)|liars?|garbage|rubbish|wtf|bastards?|asshole)\b", re.I)),
    "repeated contact": (0.10, re.compile(
        r"\b(third|3rd|fourth|4th|fifth|5th|several|many|multiple) times?\b|\bhow many times\b|"
        r"\bstill (not|no|haven't|hasn't|waiting)\b|\bagain\b|\bfor (weeks|days|months)\b", re.I)),
}


def _shouting(text: str) -> bool:
    words = re.findall(r"[A-Za-z]{3,}", text)
    caps = sum(w.isupper() for w in words)
    return "!!" in text or (len(words) >= 3 and caps / len(words) >= 0.5)


def escalation_risk(
    text: str,
    emotion: dict[str, float],
    sentiment: dict[str, float],
    intent: dict[str, float],
    previous_negative: Sequence[bool] = (),
) -> Escalation:
    """Score a customer message; ``previous_negative`` holds earlier customer turns, oldest first."""
    reasons: list[str] = []
    score = 0.35 * emotion.get("anger", 0.0) + 0.15 * emotion.get("disgust", 0.0)
    score += 0.20 * sentiment.get("negative", 0.0)
    if emotion.get("anger", 0.0) >= 0.4:
        reasons.append(f"angry ({emotion['anger']:.0%})")
    if sentiment.get("negative", 0.0) >= 0.6:
        reasons.append("negative sentiment")
    for name, weight in (("complaint", 0.15), ("contact_human_agent", 0.25)):
        p = intent.get(name, 0.0)
        score += weight * p
        if p >= 0.4:
            reasons.append(f"intent {name}")
    for reason, (weight, pattern) in _PATTERNS.items():
        if pattern.search(text):
            score += weight
            reasons.append(reason)
    if _shouting(text):
        score += 0.10
        reasons.append("shouting")
    if len(previous_negative) >= 2 and all(previous_negative[-2:]):
        score += 0.10
        reasons.append("negative for three turns in a row")
    score = max(0.0, min(1.0, score))
    level = EscalationLevel.HIGH if score >= HIGH else EscalationLevel.MEDIUM if score >= MEDIUM else EscalationLevel.LOW
    return Escalation(level=level, score=round(score, 3), reasons=tuple(reasons))
