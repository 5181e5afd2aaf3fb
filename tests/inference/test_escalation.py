"""The documented escalation rule."""

from __future__ import annotations

from assist.domain import EscalationLevel
from assist.inference.escalation import escalation_risk

CALM_EMOTION = {"neutral": 0.9, "joy": 0.1}
CALM_SENTIMENT = {"neutral": 0.9, "positive": 0.1}
ANGRY_EMOTION = {"anger": 0.9, "neutral": 0.1}
NEGATIVE = {"negative": 0.95, "neutral": 0.05}


def test_calm_question_is_low():
    result = escalation_risk("How do I change my address?", CALM_EMOTION, CALM_SENTIMENT, {"edit_account": 0.9})
    assert result.level is EscalationLevel.LOW
    assert result.reasons == ()


def test_legal_threat_and_cancel_are_high():
    result = escalation_risk("Fix it today or I'm cancelling my account and calling my lawyer",
                             ANGRY_EMOTION, NEGATIVE, {"complaint": 0.8})
    assert result.level is EscalationLevel.HIGH
    assert "legal threat" in result.reasons
    assert "threat to cancel or leave" in result.reasons
    assert "intent complaint" in result.reasons


def test_wording_alone_raises_risk():
    neutral = escalation_risk("Please update my details", CALM_EMOTION, CALM_SENTIMENT, {})
    abusive = escalation_risk("You useless idiots, update my details", CALM_EMOTION, CALM_SENTIMENT, {})
    assert abusive.score > neutral.score
    assert "abusive language" in abusive.reasons


def test_shouting_and_repetition():
    result = escalation_risk("WHERE IS MY PACKAGE!! This is the third time I ask",
                             {"neutral": 1.0}, {"neutral": 1.0}, {})
    assert "shouting" in result.reasons
    assert "repeated contact" in result.reasons


def test_negative_streak_adds_risk():
    base = escalation_risk("still waiting", {"sadness": 0.6}, NEGATIVE, {})
    streak = escalation_risk("still waiting", {"sadness": 0.6}, NEGATIVE, {}, previous_negative=[True, True])
    assert streak.score > base.score
    assert "negative for three turns in a row" in streak.reasons


def test_score_is_clipped():
    result = escalation_risk("I will sue you idiots and cancel my subscription!! THIRD TIME AGAIN",
                             {"anger": 1.0}, {"negative": 1.0}, {"contact_human_agent": 1.0, "complaint": 1.0},
                             [True, True])
    assert result.score == 1.0
