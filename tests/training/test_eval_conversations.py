"""The development set (resources/eval) is well formed, and `assist eval conversations` scores it through the
window's own path."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from assist.domain import EKMAN_EMOTIONS
from assist.inference.labels import INTENTS
from assist.training.eval_conversations import (
    ConversationFileError,
    load_conversations,
    rule_checks,
    split_of,
)


def test_the_development_set_has_what_the_issue_asks_for():
    conversations = load_conversations()
    turns = [t for c in conversations for t in c.turns if t.role == "customer"]
    emotions = Counter(t.labels["emotion"] for t in turns)
    assert len(conversations) >= 150 and len(turns) >= 500
    assert set(emotions) == set(EKMAN_EMOTIONS) and min(emotions.values()) >= 40, emotions
    assert {t.labels["intent"] for t in turns} == set(INTENTS)
    assert {c.channel for c in conversations} == {"chat", "call"}
    assert all(c.turns[-1].role == "customer" and c.reference_reply for c in conversations)
    assert all(c.split == split_of(c.id) for c in conversations)  # the split is fixed, not chosen by hand
    assert {c.split for c in conversations} == {"tune", "test"}


def test_a_broken_line_is_named(tmp_path):
    path = tmp_path / "c.jsonl"
    bad = {"id": "x", "turns": [{"role": "customer", "text": "hi", "labels": {"emotion": "happy"}}]}
    path.write_text(json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(ConversationFileError, match="line 1.*emotion 'happy'"):
        load_conversations(path)


def test_reply_rules_are_read_from_the_words():
    assert rule_checks("I'm so sorry about this, I'll refund you now.", {"must_not": ["apologise", "offer_refund"]}) \
        == ["must_not: apologise", "must_not: offer_refund"]
    assert rule_checks("That's great to hear! Here is how to sign up.", {"must": ["acknowledge_joy"],
                                                                          "must_not": ["apologise"]}) == []
    assert rule_checks("I've sent you a reset link.", {"must_not": ["claim_action_done"]}) == [
        "must_not: claim_action_done"]


@pytest.mark.slow
def test_assist_eval_conversations_plays_the_test_part_through_the_controller(tmp_path, capsys):
    from assist.app.cli.main import main

    sample = tmp_path / "two.jsonl"
    lines = [line for line in (load_conversations.__globals__["default_conversations_file"]()).read_text(
        encoding="utf-8").splitlines() if json.loads(line)["split"] == "test"][:2]
    sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["eval", "conversations", "--file", str(sample), "--details"]) == 0
    report = json.loads(capsys.readouterr().out)
    summary = report["summary"]
    assert report["conversations"] == 2 and report["turns"] == sum(
        1 for line in lines for t in json.loads(line)["turns"] if t["role"] == "customer")
    for key in ("emotion_accuracy", "emotion_macro_f1", "sentiment_accuracy", "conversation_intent_accuracy",
                "escalation_precision", "escalation_recall", "suggestion_fit"):
        assert 0.0 <= summary[key] <= 1.0, key
    assert len(report["suggestion_fit"]["details"]) == 2
    assert len(report["emotion"]["confusion_matrix"]["rows_gold_cols_pred"]) == len(EKMAN_EMOTIONS)
