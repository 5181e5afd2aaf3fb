"""Support-chat augmentation of Bitext: the gaps between its utterances and what customers write.

Two gaps, both found by reading Bitext against real support traffic:

1. **Tone.** Customers wrap requests in frustration or politeness; Bitext rarely does. A share of the
   training utterances get a framing phrase before and/or after (phrases written for Assist). The
   intent label is unchanged, so the intent head learns to read the request, not the tone. The framed
   copy also gets a *weak* emotion/sentiment label from its framing (frustrated -> anger, disappointed
   -> sadness, polite or plain -> neutral), trained on the conversation emotion head with a small loss
   weight, so support-style frustration is not read as neutral (MELD and GoEmotions have little of it).
2. **Refund wording.** Bitext's ``get_refund`` utterances are about postponed events and say "a refund"
   / "a reimbursement"; "money back" appears only in ``check_refund_policy`` ("your money back
   policy"). So "I want my money back" was read as a policy question. A share of ``get_refund``
   utterances are rewritten with "my money back" and with online-shop reasons (late, lost, damaged
   orders), keeping the label.

Every phrase here is written for Assist; none is drawn from the evaluation sets.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS
from assist.inference.labels import INTENTS
from assist.training.data import TextExample

ANGER, SADNESS, NEUTRAL = "anger", "sadness", "neutral"

# framing phrase -> the emotion it conveys
PREFIXES: dict[str, str] = {
    "I've already asked about this twice.": ANGER, "I'm really frustrated.": ANGER,
    "Honestly this is ridiculous.": ANGER, "Ugh.": ANGER, "I've been waiting for days.": ANGER,
    "Nobody has helped me so far.": ANGER, "Seriously,": ANGER, "This is the worst service ever.": ANGER,
    "I'm fed up.": ANGER, "Why is this so hard?": ANGER,
    "I'm so disappointed.": SADNESS, "I'm really upset about this.": SADNESS,
    "Hi,": NEUTRAL, "Hello there,": NEUTRAL, "Good morning,": NEUTRAL, "Hey,": NEUTRAL,
    "Quick question:": NEUTRAL, "Hi team,": NEUTRAL,
}
SUFFIXES: dict[str, str] = {
    "NOW.": ANGER, "right now!": ANGER, "This is unacceptable.": ANGER, "ASAP!!": ANGER,
    "I'm so annoyed.": ANGER, "Fix it today.": ANGER, "Or I'm leaving.": ANGER,
    "I'm not happy about this.": SADNESS, "I feel let down.": SADNESS,
    "Thanks.": NEUTRAL, "Please help.": NEUTRAL, "Thank you!": NEUTRAL, "Cheers.": NEUTRAL,
    "Thanks in advance.": NEUTRAL,
}
EMOTION_SENTIMENT = {ANGER: "negative", SADNESS: "negative", NEUTRAL: "neutral"}

REFUND_PHRASES = re.compile(r"\b(?:get|obtain|request|receive|have)\s+(?:a|an|my)\s+(?:refund|reimbursement)\b", re.I)
REFUND_NOUN = re.compile(r"\b(?:a|an)\s+(?:refund|reimbursement)\b", re.I)
EVENT_REASON = re.compile(r"^the (?:concert|show|game|event) was (?:postponed|cancell?e?d)", re.I)
MONEY_BACK = ("get my money back", "have my money back", "get my money returned", "be paid back")
SHOP_REASONS = (
    "my package is late", "my order never arrived", "the parcel arrived damaged", "the item is broken",
    "my order is two weeks late", "the jacket doesn't fit", "you sent the wrong size", "my delivery was lost",
)


def _framed(text: str, rng: random.Random) -> tuple[str, str]:
    style = rng.random()
    prefix = rng.choice(list(PREFIXES)) if style < 0.4 or style >= 0.8 else None
    suffix = rng.choice(list(SUFFIXES)) if style >= 0.4 else None
    tones = [PREFIXES[prefix]] if prefix else []
    tones += [SUFFIXES[suffix]] if suffix else []
    tone = ANGER if ANGER in tones else SADNESS if SADNESS in tones else NEUTRAL
    framed = " ".join(part for part in (prefix, text, suffix) if part)
    return framed, tone


def augment_intents(examples: list[TextExample], rng: random.Random, fraction: float) -> list[TextExample]:
    """New framed copies of ``fraction`` of the intent examples, with weak emotion labels."""
    chosen = [e for e in examples if e.intent is not None and rng.random() < fraction]
    out = []
    for e in chosen:
        text, tone = _framed(e.text, rng)
        if rng.random() < 0.1:
            text = text.upper()
        out.append(replace(e, text=text, source="bitext-augmented", emotions=(EKMAN_EMOTIONS.index(tone),),
                           sentiment=SENTIMENTS.index(EMOTION_SENTIMENT[tone])))
    return out


def paraphrase_refunds(examples: list[TextExample], rng: random.Random, fraction: float) -> list[TextExample]:
    """New ``get_refund`` copies that say "my money back" and/or give an online-shop reason."""
    refund = INTENTS.index("get_refund")
    out = []
    for e in examples:
        if e.intent != refund or rng.random() >= fraction:
            continue
        text = e.text
        if REFUND_PHRASES.search(text):
            text = REFUND_PHRASES.sub(rng.choice(MONEY_BACK), text, count=1)
        elif REFUND_NOUN.search(text):
            text = REFUND_NOUN.sub("my money back", text, count=1)
        if EVENT_REASON.search(text):
            text = EVENT_REASON.sub(rng.choice(SHOP_REASONS), text, count=1)
        if text != e.text:
            out.append(replace(e, text=text, source="bitext-paraphrased"))
    return out
