"""Readers of the support-like public sets: DailyDialog, airline tweets (with a fixed held-out part), satisfaction."""

from __future__ import annotations

from collections import Counter

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS
from assist.training.data import airline_split_of, load_airline, load_dailydialog, load_satisfaction
from assist.training.eval_text import dailydialog_micro_f1
from support import data_dir


def test_dailydialog_turns_carry_ekman_emotions_and_their_previous_turns():
    turns = load_dailydialog(data_dir(), "validation")
    counts = Counter(EKMAN_EMOTIONS[t.emotions[0]] for t in turns)
    assert len(turns) > 7000 and counts["neutral"] > counts["joy"] > counts["anger"] > 0
    second = next(t for t in turns[1:] if t.dialogue == turns[0].dialogue)
    assert second.context == turns[0].text and turns[0].context == ""


def test_airline_tweets_hold_out_a_fixed_tenth_never_trained_on():
    train, held = load_airline(data_dir(), "train"), load_airline(data_dir(), "held")
    assert 0.08 < len(held) / (len(train) + len(held)) < 0.12
    assert not {t.text for t in train} & {t.text for t in held}
    assert airline_split_of("@united thanks!") == airline_split_of("@united thanks!")  # stable: a hash, not a draw
    assert not any(t.text.startswith("@") for t in held)
    assert {SENTIMENTS[t.sentiment] for t in held} == set(SENTIMENTS)


def test_satisfaction_ratings_become_a_weak_sentiment():
    rated = load_satisfaction(data_dir())
    counts = Counter(SENTIMENTS[t.sentiment] for t in rated)
    assert counts["negative"] > 100 and counts["positive"] > 100 and counts["neutral"] > counts["negative"]


def test_dailydialogs_figure_leaves_neutral_out():
    neutral, joy = EKMAN_EMOTIONS.index("neutral"), EKMAN_EMOTIONS.index("joy")
    assert dailydialog_micro_f1([neutral, neutral, joy], [neutral, neutral, joy]) == 1.0
    assert dailydialog_micro_f1([neutral, joy], [joy, joy]) == 0.6667  # one right, one false positive
