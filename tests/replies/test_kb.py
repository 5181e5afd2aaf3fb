"""Knowledge base import, the bundled KB, retrieval and reply wording."""

from __future__ import annotations

import json

import pytest

from assist.domain import EmotionEstimate
from assist.replies.kb.entries import (
    KnowledgeBaseError,
    default_kb_path,
    general_entries,
    import_abcd_guidelines,
    load_kb,
)
from assist.replies.ranking.kb_suggestions import acknowledgement, make_suggestions
from support import data_dir


def test_bundled_kb_matches_a_fresh_import():
    guidelines = data_dir() / "abcd" / "guidelines.json"
    imported = import_abcd_guidelines(guidelines) + general_entries()
    bundled = load_kb()
    assert len(bundled) == len(imported) == 55 + 3
    assert [e.reply for e in bundled] == [e.reply for e in imported]
    assert all(e.reply.endswith("?") for e in bundled)


def test_kb_errors(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="not found"):
        load_kb(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{]")
    with pytest.raises(KnowledgeBaseError, match="corrupt"):
        load_kb(bad)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"entries": []}))
    with pytest.raises(KnowledgeBaseError, match="no entries"):
        load_kb(empty)


@pytest.mark.parametrize(
    ("message", "expected_title"),
    [
        ("I want a refund for the jacket I bought", "Initiate Refund"),
        ("I forgot my password and can't get in", "Recover Password"),
        ("My package never arrived", "Missing Item"),
        ("My promo code says it is invalid", "Promo Code Invalid"),
        ("The website is so slow I can't use it", "Website Too Slow"),
        ("Thank you so much, that's really great!", "Customer is satisfied / says thanks"),
        ("I want to speak to your manager right now", "Customer asks for a manager or threatens to leave"),
    ],
)
def test_retrieval_finds_the_procedure(engines, message, expected_title):
    hits = engines.retriever.search(message, k=3)
    assert expected_title in [h.entry.title for h in hits]
    assert hits[0].score >= hits[-1].score


def test_acknowledgement_in_proportion_and_never_an_apology_to_a_happy_customer():
    angry = EmotionEstimate({"anger": 0.8, "neutral": 0.2})
    happy = EmotionEstimate({"joy": 0.9, "neutral": 0.1})
    scared = EmotionEstimate({"fear": 0.5, "neutral": 0.5})
    calm = EmotionEstimate({"neutral": 0.8, "joy": 0.2})
    assert "frustrating" in acknowledgement(angry)
    assert acknowledgement(happy) == "That's great to hear!" and "sorry" not in acknowledgement(happy).lower()
    assert "worrying" in acknowledgement(scared)
    assert acknowledgement(calm) == ""


def test_suggestions_carry_source_and_ack(engines):
    hits = engines.retriever.search("I want my money back", k=3)
    suggestions = make_suggestions(hits, EmotionEstimate({"anger": 0.9, "neutral": 0.1}), "m1")
    assert len(suggestions) == 3
    assert all(s.text.startswith("I'm really sorry") for s in suggestions)
    assert len({s.id for s in suggestions}) == 3
    assert all(s.source_title and s.kb_entry_id.startswith("abcd/") for s in suggestions)


def test_bundled_kb_path_is_in_resources():
    assert default_kb_path().parent.parent.name == "resources"
