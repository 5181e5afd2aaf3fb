"""Replies worded for the turn (replies.ranking.tone): in proportion to the feeling, security first, through the
same ReplyService the window runs with the shipped starter bank."""

from __future__ import annotations

import re

import pytest

from assist.domain import EKMAN_EMOTIONS, EmotionEstimate, LabelEstimate
from assist.pipeline.replies import ReplyService
from assist.replies.macros.bank import MacroBank, starter_csv_path
from assist.replies.ranking.candidates import Candidate, claims_done
from assist.replies.ranking.tone import (
    ACKNOWLEDGEMENTS,
    GLAD,
    fit_situation,
    fit_to_turn,
    security_concern,
    tone_of,
)


def emotion(**probs: float) -> EmotionEstimate:
    return EmotionEstimate({e: probs.get(e, 0.0) for e in EKMAN_EMOTIONS})


JOY = emotion(joy=0.85, neutral=0.15)
ANGRY = emotion(anger=0.7, neutral=0.3)
DISGUSTED = emotion(disgust=0.6, neutral=0.4)
SCARED = emotion(fear=0.6, neutral=0.4)
CALM = emotion(neutral=0.9, joy=0.1)
APOLOGY = re.compile(r"\b(sorry|apolog\w*|frustrat\w*)\b", re.IGNORECASE)


def candidate(text: str, tags: tuple[str, ...] = (), intents: tuple[str, ...] = ()) -> Candidate:
    return Candidate(key=f"macro:{abs(hash(text))}", text=text, source_title="t", kind="macro", tags=tags,
                     intents=intents)


def test_the_feeling_a_reply_answers() -> None:
    assert tone_of(JOY) == "joy" and tone_of(ANGRY) == "anger" and tone_of(DISGUSTED) == "anger"
    assert tone_of(SCARED) == "fear" and tone_of(CALM) == "" and tone_of(None) == ""


def test_a_delighted_customer_gets_gladness_and_never_an_apology_or_an_unasked_refund() -> None:
    plain = fit_to_turn(candidate("Your order ships tomorrow."), JOY, "it worked!!")
    assert plain is not None and plain.text == f"{ACKNOWLEDGEMENTS['joy']} Your order ships tomorrow."
    glad = candidate("Glad to hear it! Anything else?")
    assert fit_to_turn(glad, JOY, "thanks!") is glad  # already opens gladly: unchanged
    assert fit_to_turn(candidate("I'm so sorry about the delay. It ships today."), JOY, "yay") is None
    assert fit_to_turn(candidate("That promo code expired on 3 May. Here is a new one."), JOY, "the code worked!") is None
    assert fit_to_turn(candidate("I can bring in my supervisor.", tags=("escalation",)), JOY, "yay") is None
    refund = candidate("I can refund the order to your card.")
    assert fit_to_turn(refund, JOY, "love it", intent="place_order") is None
    assert fit_to_turn(refund, JOY, "love it, but can I still get my refund?", intent="get_refund") is not None


def test_an_upset_customer_gets_the_acknowledgement_first_once() -> None:
    plain = fit_to_turn(candidate("I can update the address now."), ANGRY, "this is ridiculous")
    assert plain is not None and plain.text.startswith(ACKNOWLEDGEMENTS["anger"])
    already = candidate("I'm sorry about that. I can update the address now.")
    assert fit_to_turn(already, ANGRY, "this is ridiculous") is already
    scared = fit_to_turn(candidate("I can check the order."), SCARED, "what if it never comes")
    assert scared is not None and scared.text.startswith(ACKNOWLEDGEMENTS["fear"])
    calm = candidate("I can check the order.")
    assert fit_to_turn(calm, CALM, "where is my order") is calm
    assert fit_to_turn(candidate("That's wonderful!", tags=("joy",)), ANGRY, "awful") is None


def test_security_replies_only_for_a_security_concern_and_then_first() -> None:
    assert security_concern("someone is in my account and changed my email")
    assert security_concern("ok", ["I never placed these orders"]) and not security_concern("I forgot my password")
    secure = candidate("Let's make your account safe first.", tags=("security",))
    assert fit_to_turn(secure, CALM, "I forgot my password") is None
    worried = fit_to_turn(secure, CALM, "I think I've been hacked")
    assert worried is not None and worried.text.startswith(ACKNOWLEDGEMENTS["fear"])  # reassurance first
    assert fit_situation(worried, CALM, "I think I've been hacked").situation > 0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ReplyService:
    bank = MacroBank(tmp_path_factory.mktemp("bank") / "macros.json")
    assert bank.import_csv(starter_csv_path()).ok
    return ReplyService(bank)


def test_starter_bank_a_happy_customer_gets_no_apology_refund_or_supervisor(service: ReplyService) -> None:
    shown = service.suggest("m1", "it arrived today and it's perfect, thank you so much!! 😊", [],
                            LabelEstimate("track_order", 0.6), JOY, [], [])
    assert len(shown) == 3
    for s in shown:
        assert not APOLOGY.search(s.text) and "refund" not in s.text.lower() and "supervisor" not in s.text.lower()
    assert GLAD.search(shown[0].text)


def test_starter_bank_a_hacked_account_gets_security_first(service: ReplyService) -> None:
    shown = service.suggest("m2", "someone has been using my account, there are orders I never made", [],
                            LabelEstimate("recover_password", 0.5), ANGRY, [], [])
    assert "security first" in shown[0].reason
    assert re.search(r"\b(lock|bank|block|reset)\b", shown[0].text, re.IGNORECASE)
    assert not any(claims_done(s.text) for s in shown)


def test_claims_of_actions_not_done_are_recognised_in_any_past_tense() -> None:
    for text in ("I've started a refund of £20.", "I've emailed you a label.", "I have reset your password.",
                 "I've already sent it.", "I've asked the carrier."):
        assert claims_done(text), text
    for text in ("I can start a refund.", "I've got your order here.", "I've been looking into it."):
        assert not claims_done(text), text
