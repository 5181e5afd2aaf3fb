"""The escalation rule: evidence in the words makes an alert (with its reason); a strong feeling alone does not."""

from __future__ import annotations

import pytest

from assist.domain import EscalationLevel
from assist.inference.escalation import escalation_risk, evidence

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
    assert "threat to leave or close the account" in result.reasons
    assert "intent complaint" in result.reasons


@pytest.mark.parametrize("text, reason", [
    ("If this isn't refunded by Friday I'm raising a chargeback", "legal threat"),
    ("one more email after this and I'm reporting you to the ICO", "legal threat"),
    ("you lot are a bunch of thieves, absolute clowns", "abuse at staff"),
    ("are you actually reading this or are you just a useless script??", "abuse at staff"),
    ("there are three payments to you that I didn't make and another one just came in", "vulnerable customer at risk"),
    ("I just got an email saying my password was changed. I DIDN'T change it!!", "vulnerable customer at risk"),
    ("will I get it back? I don't get paid till the 28th and the rent comes out tomorrow", "vulnerable customer at risk"),
    ("it's her insulin, she needs it before Monday", "vulnerable customer at risk"),
    ("if it's not sorted today I'm done shopping with you lot", "threat to leave"),
])
def test_evidence_alone_alerts_a_supervisor_whatever_the_models_read(text, reason):
    result = escalation_risk(text, CALM_EMOTION, CALM_SENTIMENT, {})
    assert result.level is EscalationLevel.HIGH and reason in result.reasons, result


def test_leaving_and_repeated_contact_alert_only_when_the_customer_is_unhappy():
    text = "This is the third time I've contacted you about it. I want to close my account."
    calm = escalation_risk(text, CALM_EMOTION, CALM_SENTIMENT, {"delete_account": 0.9})
    upset = escalation_risk(text, ANGRY_EMOTION, NEGATIVE, {"delete_account": 0.9})
    assert {r for r, _ in evidence(text)} == {"threat to leave or close the account", "repeated contact"}
    assert calm.level is not EscalationLevel.HIGH
    assert upset.level is EscalationLevel.HIGH and "repeated contact" in upset.reasons


def test_a_strong_feeling_without_evidence_is_at_most_medium():
    result = escalation_risk("where the hell is my order. 12 days. tracking hasnt moved", {"anger": 1.0},
                             {"negative": 1.0}, {"complaint": 1.0}, [True, True])
    assert result.level is EscalationLevel.MEDIUM and result.score < 0.6
    assert "profanity" in result.reasons and "angry (100%)" in result.reasons


def test_words_about_a_product_are_not_abuse_at_staff():
    assert not [r for r, _ in evidence("this jacket is rubbish and the zip is crap") if r == "abuse at staff"]
    assert not evidence("should I ring my bank as well?")  # asking about the bank is not a chargeback threat


def test_shouting_and_repetition():
    result = escalation_risk("WHERE IS MY PACKAGE!! This is the third time I ask",
                             {"neutral": 1.0}, {"neutral": 1.0}, {})
    assert "shouting" in result.reasons
    assert result.level is EscalationLevel.LOW or result.level is EscalationLevel.MEDIUM  # calm reading: no alert


def test_negative_streak_adds_risk():
    base = escalation_risk("where is it", {"sadness": 0.6}, NEGATIVE, {})
    streak = escalation_risk("where is it", {"sadness": 0.6}, NEGATIVE, {}, previous_negative=[True, True])
    assert streak.score > base.score
    assert "negative for three turns in a row" in streak.reasons


def test_score_is_clipped():
    result = escalation_risk("I will sue you idiots and cancel my subscription!! THIRD TIME AGAIN",
                             {"anger": 1.0}, {"negative": 1.0}, {"contact_human_agent": 1.0, "complaint": 1.0},
                             [True, True])
    assert result.score == 1.0 and result.level is EscalationLevel.HIGH


# --- evidence by meaning ---------------------------------------------------------------------------------------
def test_sentences_split_and_long_turns_are_grouped_into_at_most_four_pieces():
    from assist.inference.escalation import sentences

    assert sentences("Where is it? I've asked twice. Thanks") == ["Where is it?", "I've asked twice.", "Thanks"]
    long = " ".join(f"Sentence number {i}." for i in range(10))
    pieces = sentences(long)
    assert len(pieces) == 4 and " ".join(pieces) == long
    assert sentences("ok") == []


def _bag_of_words(texts):
    """A test double for the encoder: one dimension per word of a small vocabulary."""
    import numpy as np

    vocab = ["lawyer", "court", "useless", "idiot", "order", "address", "thanks", "scared", "card"]
    rows = np.zeros((len(texts), len(vocab) + 1), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().replace(".", " ").replace("?", " ").split():
            if word in vocab:
                rows[i, vocab.index(word)] += 1
        rows[i, -1] = 0.1
    return rows


def test_prototypes_give_evidence_for_a_close_sentence_only():
    from assist.inference.escalation import EscalationPrototypes

    protos = EscalationPrototypes({"legal_threat": ["I'll see you in court with my lawyer."],
                                   "abuse": ["You useless idiot."]}, _bag_of_words)
    assert protos.evidence("Can I change the address on my order? My lawyer said court.") == [("legal threat", True)]
    assert protos.evidence("Thanks, can I change the address?") == []
    risk = escalation_risk("Fine. My lawyer will be in court.", {"neutral": 1.0}, {"neutral": 1.0}, {},
                           by_meaning=protos.evidence("Fine. My lawyer will be in court."))
    assert risk.level is EscalationLevel.HIGH and "legal threat" in risk.reasons


def test_the_shipped_prototypes_find_a_paraphrase_no_pattern_words():
    from assist.inference.escalation import EscalationPrototypes, evidence
    from assist.inference.text_onnx import load_text_model

    model = load_text_model(None, device="cpu")
    protos = EscalationPrototypes.load(model.embed)
    text = "I'm escalating this to my legal team."
    assert evidence(text) == []  # no word pattern
    assert ("legal threat", True) in protos.evidence(text)
    assert protos.evidence("Thanks, that's great! Can I change the delivery address?") == []


def test_an_unreadable_prototypes_file_is_said_in_words(tmp_path):
    from assist.inference.escalation import EscalationPrototypes, PrototypeError

    bad = tmp_path / "prototypes.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(PrototypeError, match="missing or unreadable"):
        EscalationPrototypes.load(_bag_of_words, bad)
    bad.write_text('{"other": ["x"]}', encoding="utf-8")
    with pytest.raises(PrototypeError, match="names none of"):
        EscalationPrototypes.load(_bag_of_words, bad)


def test_a_reason_quotes_the_figure_the_window_shows():
    """Issue 17 (5): the why-line's "angry (N%)" is the shown anger, not the model's raw reading."""
    raw, shown = {"anger": 0.9, "neutral": 0.1}, {"anger": 0.74, "neutral": 0.26}
    risk = escalation_risk("this is not ok", raw, {"negative": 0.9}, {}, shown_emotion=shown)
    assert "angry (74%)" in risk.reasons and "angry (90%)" not in risk.reasons
    calmer = escalation_risk("this is not ok", raw, {"negative": 0.9}, {}, shown_emotion={"anger": 0.3})
    assert not any(r.startswith("angry") for r in calmer.reasons)
