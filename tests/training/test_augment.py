"""The support-chat augmentation keeps labels and gives framed copies the framing's tone."""

from __future__ import annotations

import random

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS
from assist.inference.labels import INTENTS
from assist.training.augment import PREFIXES, SUFFIXES, augment_intents, paraphrase_refunds
from assist.training.data import TextExample

REFUND = INTENTS.index("get_refund")


def bitext(text: str, intent: str) -> TextExample:
    return TextExample(text=text, source="bitext", intent=INTENTS.index(intent))


def test_refund_paraphrases_say_money_back_and_keep_the_label():
    rows = [bitext("the concert was postponed, can I get a refund?", "get_refund"),
            bitext("I want a reimbursement", "get_refund"),
            bitext("where is your refund policy?", "check_refund_policy")]
    out = paraphrase_refunds(rows, random.Random(0), fraction=1.0)
    assert len(out) == 2
    assert all(e.intent == REFUND and e.source == "bitext-paraphrased" for e in out)
    assert all("money back" in e.text or "paid back" in e.text or "money returned" in e.text for e in out)
    assert "concert" not in out[0].text  # the event reason became an online-shop one


def test_framed_copies_keep_the_intent_and_take_the_tone():
    rows = [bitext(f"cancel order {i}", "cancel_order") for i in range(400)]
    out = augment_intents(rows, random.Random(1), fraction=1.0)
    assert len(out) == 400
    assert {e.intent for e in out} == {INTENTS.index("cancel_order")}
    seen = set()
    for e in out:
        emotion = EKMAN_EMOTIONS[e.emotions[0]]
        seen.add(emotion)
        lowered = e.text.lower()
        frustrated = [p for p, tone in (PREFIXES | SUFFIXES).items() if tone == "anger" and p.lower() in lowered]
        if frustrated:
            assert emotion == "anger", e.text
            assert SENTIMENTS[e.sentiment] == "negative"
        elif emotion == "neutral":
            assert SENTIMENTS[e.sentiment] == "neutral"
    assert seen == {"anger", "sadness", "neutral"}
