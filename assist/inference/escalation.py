"""Escalation risk: evidence in the customer's words first, then a documented additive score over the models' outputs.

Evidence (LABELS.md: when to alert a supervisor), each with its reason shown to the agent and the supervisor:
- legal threat (court, lawyer, ombudsman, regulator, chargeback or a dispute through the bank),
- threat to leave or to close the account (taking the business elsewhere, never ordering again, cancelling the
  account or subscription) — an alert when said in anger or dissatisfaction,
- abuse aimed at staff (insults at "you" or the team), not swearing about a product,
- repeated contact (a second or later contact about the same problem, promises not kept, a bot loop) — an alert
  when the customer is unhappy about it,
- a vulnerable customer at risk: fraud in progress or an account in a stranger's hands, medical need, safety,
  serious hardship.
Legal threats, abuse and vulnerability are alerts on their own (level high); leaving and repeated contact are when
the turn is negative (P(negative) >= ``NEGATIVE_FOR_EVIDENCE``) or angry. Only evidence makes an alert: a strong
feeling alone is at most medium. Without evidence the score is

    0.35*P(anger) + 0.15*P(disgust) + 0.20*P(negative) + 0.15*P(complaint) + 0.25*P(contact_human_agent)
    + 0.10 shouting (capitals, "!!") + 0.10 profanity + 0.10 when the previous two customer turns were negative

clipped to [0, 0.59]: medium >= 0.35, else low (an alert is 0.60 or more). Every term that fires adds a reason. The patterns and the
thresholds were chosen on the tuning part of the development set (``resources/eval``, model card figures).

Evidence is also found by meaning, for what no pattern words (``EscalationPrototypes``): each sentence of the
message (at most ``MAX_SENTENCES`` pieces) is embedded with the retrieval encoder (all-MiniLM-L6-v2) and compared
with ``resources/escalation/prototypes.json``, sentences written for Assist from LABELS.md's definitions. A
sentence within ``PROTOTYPE_SIMILARITY`` (cosine) of a reason's prototype is evidence of that reason, counted as the
pattern of the same reason is (alone, or when the turn is unhappy). The threshold is the lowest that keeps the
tuning part's alert precision at 0.85 or more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assist.domain import Escalation, EscalationLevel
from assist.paths import resource

HIGH, MEDIUM = 0.60, 0.35
NEGATIVE_FOR_EVIDENCE = 0.5
_I = re.IGNORECASE

LEGAL = re.compile(
    r"\b(lawyers?|attorneys?|solicitors?|sue|suing|lawsuit|legal action|legal advice|take (?:you|this) to court|court|"
    r"small claims|ombudsman|regulators?|trading standards|better business bureau|bbb|consumer protection|"
    r"consumer rights|ftc|fca|cfpb|ico|gdpr complaint|data protection (?:authority|complaint)|chargeback|charge back|"
    r"dispute (?:it|this|the (?:charge|payment)) with my bank|report(?:ing)? (?:you|this|your company) to)\b", _I)
LEAVING_FOR_GOOD = re.compile(  # hostile on its face: an alert whatever the models read
    r"\b(tak(?:e|ing) (?:my|our) (?:business|money|custom)|done (?:shopping|ordering|buying) (?:with|from|here)|"
    r"(?:buy|order|get)\w* (?:it |them |the \w+ )?(?:from|at) [A-Z]\w+ instead|(?:go|going) to [A-Z]\w+ instead|"
    r"never (?:buy|order|shop)\w* (?:from|with|here) again)\b")
LEAVE = re.compile(
    r"\b((?:cancel+(?:ing)?|clos(?:e|ing)|delet(?:e|ing)|deactivat(?:e|ing)|terminat(?:e|ing)) (?:my|the|this|our) "
    r"(?:whole )?(?:account|subscription|membership|contract|plan|card)|"
    r"cancel\w* (?:it |everything )?altogether|"
    r"(?:switch|switching|go|going|move|moving) (?:over )?to (?:another|a different|a competitor|your competitor|"
    r"amazon|someone else)|never (?:buy|order|shop|use)\w* (?:from|with|here|you|again)|"
    r"(?:won't|will not|never) be (?:ordering|buying|shopping|back)|last time I (?:order|buy|shop|use)\w*|"
    r"(?:I'm|I am|we're) (?:so )?done with (?:you|this|your)|lost (?:a|my|our) (?:customer|business)|"
    r"leaving (?:you|your)|find another (?:shop|store|company|provider))\b", _I)
ABUSE = re.compile(
    r"\b(f+u+c+k+ (?:you|off|u)|you (?:people |guys |lot )?(?:are |r )?(?:useless|incompetent|pathetic|idiots?|"
    r"morons?|clowns?|liars?|thie(?:f|ves)|scammers?|a joke|clueless|worthless)|"
    r"you(?:'re| are) (?:as |such |just |all )?(?:a |an )?(?:useless|incompetent|pathetic|clueless|joke)|"
    r"brain ?dead|don'?t you dare|(?:useless|incompetent|pathetic|stupid|lazy|clueless) (?:idiots?|morons?|people|staff|agents?|company|lot|"
    r"clowns?|bots?|script)|(?:bunch|load|pack|lot) of (?:thieves|clowns|idiots|liars|crooks|muppets|morons)|"
    r"idiots?|morons?|muppets|clowns|crooks|bastards?|assholes?|(?:your|the) (?:staff|agents?|team|support|company) "
    r"(?:is|are) (?:useless|incompetent|a joke|pathetic|clueless|liars?))\b", _I)
PROFANITY = re.compile(r"\b(f+u+c+k\w*|shit\w*|bullshit|crap|damn|wtf|bloody|hell)\b", _I)
REPEATED = re.compile(
    r"\b((?:second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|\d+(?:st|nd|rd|th)) time|"
    r"(?:called|rang|phoned|contacted|written|wrote|emailed|messaged|chatted|spoken|spoke|asked|complained)"
    r"(?: to)?(?: you| your \w+)?(?: about this)? (?:already|before|twice|three times|four times|\d+ times|"
    r"several times|many times|multiple times|countless times|again|last week|yesterday|every day)|"
    r"(?:already|twice|again) (?:called|rang|contacted|emailed|written|wrote|messaged|chatted|complained|asked)|"
    r"how many times|(?:was|were|been|got) (?:told|promised)|you (?:said|promised|told me)|"
    r"(?:three|four|five|six|ten|\d+|several|many|multiple|countless) times|"
    r"(?:second|third|fourth|fifth|\d+(?:nd|rd|th)) (?:chat|call|email|message|attempt|request|complaint)|"
    r"(?:first|last) time,? (?:I|we|they|you|someone) (?:rang|called|contacted|wrote|asked|said|told)|"
    r"heard it from|(?:nobody|no one|no-one) (?:has )?(?:got|gotten|called|came|come|rang|emailed|replied|responded|"
    r"contacted) (?:me )?back|keep (?:telling|saying|getting|sending|asking)|"
    r"(?:same|another) (?:answer|reply|response|bot|automated|copy)|(?:round|around) in circles|yet again|"
    r"once again)\b", _I)
VULNERABLE = re.compile(
    r"\b(hack(?:ed|er|ers|ing)|someone (?:else )?(?:is |has |was )?(?:in|into|using|logged into|accessed|got into|"
    r"changed|took over) my|(?:stranger|somebody)(?:'s| has| is)? (?:in|using|access)|not me|wasn't me|"
    r"(?:didn't|did not|never) (?:make|made|authori[sz]e\w*)|"
    r"(?:didn't|did not|never) (?:order|ordered|buy|bought) (?:this|these|that|those|it|them|any)|"
    r"pretending to be me|password (?:was |has been |got )?changed|(?:didn'?t|did not) change (?:it|my password)|"
    r"card (?:was |has been )?used|(?:didn'?t|did not) (?:buy|order) anything|(?:never seen|isn't mine|not mine)|unauthori[sz]ed|fraud\w*|stolen|identity theft|scam(?:med)?|phishing|"
    r"insulin|medication|medicine|prescription|inhaler|epipen|hospital|chemo\w*|dialysis|oxygen|wheelchair|"
    r"hearing aid|disabled|disability|surgery|my (?:baby|child|kid)'?s? (?:formula|medicine)|"
    r"(?:my|her|his) op\b|operation|(?:not|don't feel|do not feel) safe (?:at home|going|to go|around)|"
    r"stalk\w*|domestic (?:abuse|violence)|threaten(?:ed|ing) me|get away from (?:him|her|them)|my ex\b|"
    r"(?:can'?t|cannot|can not|couldn'?t) afford|lost my job|(?:no|not enough) money|every penny|rent|salary|"
    r"(?:don'?t|do not) get paid|payday|(?:electricity|gas|water|mortgage) (?:comes|goes) out|"
    r"(?:food|electricity|heating) (?:money|bill)|on benefits|pension|overdrawn|overdraft|"
    r"can't lose (?:any )?more|(?:all|last) (?:of )?(?:my|the) (?:money|savings))\b", _I)
EVIDENCE: dict[str, tuple[re.Pattern[str], bool]] = {  # reason -> (pattern, an alert on its own)
    "legal threat": (LEGAL, True),
    "threat to leave": (LEAVING_FOR_GOOD, True),
    "abuse at staff": (ABUSE, True),
    "vulnerable customer at risk": (VULNERABLE, True),
    "threat to leave or close the account": (LEAVE, False),
    "repeated contact": (REPEATED, False),
}


PROTOTYPE_SIMILARITY = 0.60
MAX_SENTENCES = 4
EMBED_CHUNK = 4  # rows per embed call: small calls keep the text model on its per-row path (the same vectors)
PROTOTYPE_REASONS = {  # prototypes.json key -> the evidence it stands for (as in EVIDENCE)
    "legal_threat": "legal threat",
    "leave_threat": "threat to leave or close the account",
    "abuse": "abuse at staff",
    "repeated_contact": "repeated contact",
    "vulnerable": "vulnerable customer at risk",
}
ALONE = {reason: alone for reason, (_, alone) in EVIDENCE.items()}
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")

Embed = Callable[[list[str]], np.ndarray]


class PrototypeError(ValueError):
    """The prototypes file is missing or not in its format."""


def sentences(text: str, limit: int = MAX_SENTENCES) -> list[str]:
    """The message's sentences, joined into at most ``limit`` consecutive pieces (a long call turn)."""
    parts = [p.strip() for p in _SENTENCE.split(text) if len(p.strip()) >= 3]
    if len(parts) <= limit:
        return parts
    size = -(-len(parts) // limit)
    return [" ".join(parts[i : i + size]) for i in range(0, len(parts), size)]


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def embed_rows(embed: Embed, texts: list[str]) -> np.ndarray:
    parts = [embed(texts[i : i + EMBED_CHUNK]) for i in range(0, len(texts), EMBED_CHUNK)]
    return np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)


class EscalationPrototypes:
    """Evidence by meaning: sentences close to a reason's prototypes (module docstring)."""

    def __init__(self, prototypes: dict[str, list[str]], embed: Embed,
                 similarity: float = PROTOTYPE_SIMILARITY) -> None:
        self.embed, self.similarity = embed, similarity
        self.reasons = [k for k in PROTOTYPE_REASONS if prototypes.get(k)]
        texts = [t for k in self.reasons for t in prototypes[k]]
        self.owner = np.array([i for i, k in enumerate(self.reasons) for _ in prototypes[k]])
        self.vectors = _unit(embed_rows(embed, texts)) if texts else np.zeros((0, 384), dtype=np.float32)

    @classmethod
    def load(cls, embed: Embed, path: Path | None = None) -> EscalationPrototypes:
        path = path or resource("escalation", "prototypes.json")
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            prototypes = {k: [str(t) for t in doc[k]] for k in PROTOTYPE_REASONS if k in doc}
        except (OSError, ValueError, TypeError) as exc:
            raise PrototypeError(f"{Path(path).name} is missing or unreadable ({exc})") from exc
        if not prototypes:
            raise PrototypeError(f"{Path(path).name} names none of {', '.join(PROTOTYPE_REASONS)}")
        return cls(prototypes, embed)

    def scores(self, text: str, message_vector: np.ndarray | None = None) -> dict[str, float]:
        """The best cosine per reason over the message's sentences (the whole message's vector reused when it is
        one sentence)."""
        parts = sentences(text)
        if not parts or not len(self.vectors):
            return {}
        if len(parts) == 1 and message_vector is not None:
            vectors = _unit(np.asarray(message_vector)[None, :])
        else:
            vectors = _unit(embed_rows(self.embed, parts))
        best = (vectors @ self.vectors.T).max(0)
        return {reason: float(best[self.owner == i].max()) for i, reason in enumerate(self.reasons)}

    def evidence(self, text: str, message_vector: np.ndarray | None = None) -> list[tuple[str, bool]]:
        """(reason, an alert on its own) for every reason a sentence of the message is close to."""
        found = [PROTOTYPE_REASONS[k] for k, v in self.scores(text, message_vector).items() if v >= self.similarity]
        return [(reason, ALONE[reason]) for reason in found]


def _shouting(text: str) -> bool:
    words = re.findall(r"[A-Za-z]{3,}", text)
    caps = sum(w.isupper() for w in words)
    return "!!" in text or (len(words) >= 3 and caps / len(words) >= 0.5)


def evidence(text: str) -> list[tuple[str, bool]]:
    """The evidence in a customer's words: (reason, an alert on its own), in the order of ``EVIDENCE``."""
    return [(reason, alone) for reason, (pattern, alone) in EVIDENCE.items() if pattern.search(text)]


def escalation_risk(
    text: str,
    emotion: dict[str, float],
    sentiment: dict[str, float],
    intent: dict[str, float],
    previous_negative: Sequence[bool] = (),
    by_meaning: Sequence[tuple[str, bool]] = (),
    shown_emotion: dict[str, float] | None = None,
) -> Escalation:
    """Score a customer message; ``previous_negative`` holds earlier customer turns, oldest first;
    ``by_meaning`` is ``EscalationPrototypes.evidence`` for the message. The score is computed on the models' own
    readings (``emotion``); a reason that quotes a figure quotes ``shown_emotion``, the estimate the window shows
    (after the conversation prior), so the agent never sees two figures for one thing."""
    reasons: list[str] = []
    negative = sentiment.get("negative", 0.0)
    unhappy = negative >= NEGATIVE_FOR_EVIDENCE or emotion.get("anger", 0.0) >= 0.4
    found = list(dict.fromkeys([*evidence(text), *by_meaning]))
    alert = any(alone or unhappy for _, alone in found)
    reasons += [reason for reason, alone in found if alone or unhappy]
    score = 0.35 * emotion.get("anger", 0.0) + 0.15 * emotion.get("disgust", 0.0) + 0.20 * negative
    shown = emotion if shown_emotion is None else shown_emotion
    if emotion.get("anger", 0.0) >= 0.4 and shown.get("anger", 0.0) >= 0.4:
        reasons.append(f"angry ({shown['anger']:.0%})")
    if negative >= 0.6:
        reasons.append("negative sentiment")
    for name, weight in (("complaint", 0.15), ("contact_human_agent", 0.25)):
        p = intent.get(name, 0.0)
        score += weight * p
        if p >= 0.4:
            reasons.append(f"intent {name}")
    if PROFANITY.search(text):
        score += 0.10
        reasons.append("profanity")
    if _shouting(text):
        score += 0.10
        reasons.append("shouting")
    if len(previous_negative) >= 2 and all(previous_negative[-2:]):
        score += 0.10
        reasons.append("negative for three turns in a row")
    score = max(0.0, min(1.0, score))
    if alert:  # a supervisor is alerted for evidence, not for a strong feeling alone (LABELS.md)
        score = max(score, HIGH)
        level = EscalationLevel.HIGH
    else:
        score = min(score, HIGH - 0.01)
        level = EscalationLevel.MEDIUM if score >= MEDIUM else EscalationLevel.LOW
    return Escalation(level=level, score=round(score, 3), reasons=tuple(dict.fromkeys(reasons)))


__all__ = ["EVIDENCE", "HIGH", "MEDIUM", "EscalationPrototypes", "PrototypeError", "escalation_risk", "evidence",
           "sentences"]
