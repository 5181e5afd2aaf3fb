"""Chat signals reach the text model as words it knows (one normalisation for training and run time)."""

from __future__ import annotations

import pytest

from assist.inference.chat_text import model_input, shouting
from assist.inference.text_model import prepare_text


@pytest.mark.parametrize("text, expected", [
    ("it worked 🎉🎉", "it worked party popper party popper"),
    ("someone is in my account 😰", "someone is in my account anxious face with sweat"),
    ("thanks 👍🏽", "thanks thumbs up medium skin tone"),
    ("great :) <3", "great smiling face red heart"),
    ("nooooo way!!!!!!", "noo way!!!"),
    ("really?????", "really???"),
])
def test_emoji_emoticons_elongation_and_punctuation_become_readable(text, expected):
    assert model_input(text) == expected


def test_shouting_is_kept_as_a_word_the_uncased_model_sees():
    assert model_input("WHERE IS MY ORDER, THREE WEEKS NOW") == "WHERE IS MY ORDER, THREE WEEKS NOW (in capitals)"
    assert shouting("WHERE IS MY PARCEL NOW") and not shouting("my order from the USA via DHL")


def test_urls_and_times_are_not_read_as_emoticons():
    assert model_input("see https://example.com/a:)b at 10:30") == "see https://example.com/a:)b at 10:30"


def test_the_runtimes_read_what_training_reads(text_model):
    """Both text-model runtimes go through prepare_text: an emoji changes the reading (it was [UNK] before)."""
    assert prepare_text("  thanks 🎉 ") == model_input("thanks 🎉") == "thanks party popper"
    party, plain = text_model.analyze(["thanks 🎉"])[0], text_model.analyze(["thanks"])[0]
    assert party.emotion != plain.emotion
