"""Replies from the SQLite knowledge base: procedure replies, passage replies, citations, conversation-aware queries."""

from __future__ import annotations

import pytest

from assist.domain import EmotionEstimate, ScreenEntity
from assist.replies.kb.entries import default_kb_path
from assist.replies.kb.retriever import StoreRetriever, conversation_query, passage_reply
from assist.replies.kb.store import KnowledgeStore
from assist.replies.ranking.kb_suggestions import make_suggestions

POLICY = """# Refund policy

## Who qualifies
Any unused item returned in its original packaging qualifies for a full refund. Sale items are final.
Gift cards cannot be refunded under any circumstances, whatever the customer says.

## How long it takes
- Refunds reach the card within **5 to 7 business days** after the warehouse receives the parcel.
- We email the customer when the refund is issued.
"""


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, text_model):
    folder = tmp_path_factory.mktemp("kbdocs")
    (folder / "refund-policy.md").write_text(POLICY, encoding="utf-8")
    store = KnowledgeStore(tmp_path_factory.mktemp("kb") / "kb.sqlite3", embed=text_model.embed, model_id="t")
    assert store.import_path(default_kb_path()).ok and store.import_path(folder).ok
    yield StoreRetriever(store)
    store.close()


def test_an_abcd_procedure_hit_replies_with_its_suggested_reply(retriever):
    hits = retriever.search("I forgot my password and cannot log in to my account", k=3)
    assert hits and len({h.entry.id for h in hits}) == len(hits)  # one hit per article
    # the password procedure among the three the agent sees (not an exact place: fused ranks tie often)
    top = next(h for h in hits if h.entry.id.startswith("abcd/") and "password" in h.entry.title.lower())
    assert top.entry.reply.startswith("I can help you with")  # the procedure's own reply, not a passage
    suggestion = make_suggestions([top], None, "m1")[0]
    assert suggestion.source_title == top.entry.title  # a procedure is cited by name, not by section
    assert 0 < top.score <= 1.0 and top.dense > 0.2


def test_a_markdown_article_replies_with_the_matched_passage_and_cites_its_section(retriever):
    hits = retriever.search("how many days until the refund reaches my card", k=3)
    top = next(h for h in hits if h.entry.title == "Refund policy")
    assert top.section == "How long it takes"
    assert top.entry.reply.startswith("Refunds reach the card within 5 to 7 business days")
    assert "**" not in top.entry.reply and not top.entry.reply.startswith("-")
    angry = EmotionEstimate({"anger": 0.8, "neutral": 0.2})
    suggestion = make_suggestions([top], angry, "m2")[0]
    assert suggestion.source_title == "Refund policy › How long it takes"
    assert suggestion.text.startswith("I'm really sorry") and "5 to 7 business days" in suggestion.text


def test_a_short_turn_is_searched_with_the_turn_before():
    assert conversation_query("still nothing", ["My parcel never arrived and the tracking is stuck"]) == (
        "still nothing My parcel never arrived and the tracking is stuck", True)
    long = "My parcel never arrived and the tracking page is stuck"
    assert conversation_query(long, ["earlier"]) == (long, False)
    assert conversation_query("hello", []) == ("hello", False)


def test_a_short_follow_up_finds_what_the_conversation_is_about(retriever):
    alone = retriever.search("yes, still nothing", k=1)
    query, extended = conversation_query("yes, still nothing", ["my package never arrived, where is my order?"])
    with_context = retriever.search(query, k=1)
    assert extended and with_context[0].entry.id != (alone[0].entry.id if alone else "")
    assert with_context[0].entry.id.startswith("abcd/shipping-issue/")


def test_passage_reply_takes_two_sentences_and_cuts_long_text_at_a_word():
    assert passage_reply("First one. Second one! Third one.") == "First one. Second one!"
    long = "word " * 200
    reply = passage_reply(long, max_chars=50)
    assert reply.endswith("…") and len(reply) <= 51 and "wor…" not in reply


def test_an_empty_kb_gives_no_hits(tmp_path, text_model):
    with KnowledgeStore(tmp_path / "kb.sqlite3", embed=text_model.embed, model_id="t") as store:
        assert StoreRetriever(store).search("refund", k=3) == []
        assert StoreRetriever(store).describe() == "0 articles, 0 passages"


def test_what_the_screenshot_says_went_wrong_joins_the_query(engines):
    vague = "it still does not work, can you help?"
    entities = [ScreenEntity("error_code", "ERR_PAYMENT_DECLINED"), ScreenEntity("status", "Declined"),
                ScreenEntity("order_id", "3348917502")]
    query, extended = conversation_query(vague, [], entities)
    assert extended and query == f"{vague} ERR PAYMENT DECLINED"  # ids say nothing about the problem; no repeats
    assert engines.retriever.search(vague, k=1)[0].entry.id != "abcd/troubleshoot-site/invalid-credit-card"
    assert engines.retriever.search(query, k=1)[0].entry.id == "abcd/troubleshoot-site/invalid-credit-card"


def test_a_corrupt_or_empty_user_kb_is_said_and_the_app_still_suggests(tmp_path):
    from assist.pipeline.controller import SessionController
    from assist.pipeline.engines import EngineConfig, load_engines

    corrupt = tmp_path / "kb.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    before = corrupt.read_bytes()
    engines = load_engines(EngineConfig(kb_path=corrupt))
    assert any("not a knowledge base" in n and "left as it is" in n for n in engines.notes)
    assert corrupt.read_bytes() == before  # never "repaired" over the user's file
    controller = SessionController(engines)
    controller.start_session()
    assert controller.submit("customer", "I forgot my password").insight.suggestions
    with KnowledgeStore(tmp_path / "empty.sqlite3"):
        pass
    empty = load_engines(EngineConfig(kb_path=tmp_path / "empty.sqlite3"))
    assert any("is empty" in n and "Import" in n for n in empty.notes)


def test_the_kb_description_is_counted_again_only_after_a_write(tmp_path, monkeypatch):
    store = KnowledgeStore(tmp_path / "kb.sqlite3")
    retriever = StoreRetriever(store)
    assert retriever.describe() == "0 articles, 0 passages"
    calls = []
    real = store.stats
    monkeypatch.setattr(store, "stats", lambda: calls.append(1) or real())
    retriever.describe()
    assert calls == []  # nothing written: the cached words serve every Insight
    (tmp_path / "a.md").write_text("# Returns\n\nSend it back within 30 days.", encoding="utf-8")
    assert store.import_path(tmp_path / "a.md").ok
    assert retriever.describe() == "1 articles, 1 passages" and calls == [1]
    store.close()
