"""The SQLite knowledge base: importers, incremental and transactional import, bad input, hybrid search, CLI."""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from assist.domain import ProgressState
from assist.replies.kb.readers import (
    MAX_FILE_BYTES,
    OVERLAP_WORDS,
    WINDOW_WORDS,
    ArticleDraft,
    chunk_article,
    read_markdown,
)
from assist.replies.kb.store import KnowledgeStore, KnowledgeStoreError, fts_query
from support import data_dir

pytestmark = pytest.mark.slow

REFUND = """---
title: Refund policy
category: Billing
---
# Refunds (ignored: the front matter names the article)

Customers can get their money back within 30 days of delivery.

## Who qualifies
Any unused item returned in its original packaging qualifies for a full refund to the original payment method.

## How long it takes
Refunds reach the card within 5 to 7 business days after the warehouse receives the parcel.

### Gift cards
Purchases paid with a gift card are refunded as store credit.
"""

SHIPPING = """# Shipping times

Standard delivery takes 3 to 5 business days; express arrives the next business day.

## Tracking a parcel
Every order gets a tracking number by email once the parcel leaves the warehouse.

```
# not a heading: inside a code block
```
"""

PASSWORD = """# Resetting a password

## Steps
Open the sign-in page, choose "Forgot password" and follow the link we email you. The link expires after an hour.
"""


class CountingEmbed:
    """The real embedding function, counting how many texts it was asked for."""

    def __init__(self, embed) -> None:
        self.embed, self.texts = embed, 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.embed(texts)


class CancelAt(ProgressState):
    """Cancels the job when it reports a stage ("reading", "embedding")."""

    def __init__(self, stage: str) -> None:
        super().__init__(self._seen)
        self.stage = stage

    def _seen(self, fraction: float, message: str) -> None:
        if message.startswith(self.stage):
            self.cancel()


@pytest.fixture(scope="module")
def model():
    from assist.inference.text_onnx import OnnxTextModel
    from assist.pipeline.engines import embedding_model_id

    text_model = OnnxTextModel(threads=2, device="cpu")
    return text_model.embed, embedding_model_id(text_model)


@pytest.fixture
def embed(model) -> CountingEmbed:
    return CountingEmbed(model[0])


@pytest.fixture
def store(tmp_path, model, embed):
    with KnowledgeStore(tmp_path / "kb.sqlite3", embed=embed, model_id=model[1]) as kb:
        yield kb


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    (folder / "billing").mkdir(parents=True)
    (folder / "billing" / "refunds.md").write_text(REFUND, encoding="utf-8")
    (folder / "shipping.md").write_text(SHIPPING, encoding="utf-8")
    (folder / "password.markdown").write_text(PASSWORD, encoding="utf-8")
    (folder / ".hidden.md").write_text("# Hidden\n\nnever imported", encoding="utf-8")
    return folder


def snapshot(kb: KnowledgeStore) -> tuple:
    """Everything a failed import must leave as it was."""
    conn = sqlite3.connect(kb.path)
    try:
        return tuple(conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                     for t in ("files", "articles", "chunks", "embeddings"))
    finally:
        conn.close()


def titles(kb: KnowledgeStore) -> list[str]:
    return [a.title for a in kb.articles()]


# --- importers ------------------------------------------------------------------------------------------


def test_abcd_guidelines_import_and_a_refund_question_finds_the_refund_procedure(store):
    report = store.import_path(data_dir() / "abcd" / "guidelines.json")
    assert report.ok and report.added == 58 and report.problems == []  # 55 ABCD subflows + 3 general entries
    stats = store.stats()
    assert stats["chunks"] == stats["embedded"] > 58
    # what the agent sees: three articles (one passage each), the refund procedure among them. Not an exact
    # place: reciprocal-rank fusion ties often, and another onnxruntime/numpy build moves a near-tie
    hits = store.search("I returned the shoes two weeks ago, how do I get my money back?", k=3, max_per_article=1)
    assert any("Refund" in h.title for h in hits), [h.title for h in hits]
    hits = store.search("I want a refund for my order", k=3, max_per_article=1)
    hit = next(h for h in hits if h.title == "Initiate Refund")
    assert hit.dense is not None and hit.bm25 is not None
    assert hit.source == "guidelines.json#abcd/product-defect/initiate-refund"
    article = store.article(hit.article_id)
    assert article is not None and [h for h, _ in article.sections] == ["Summary", "Steps", "Suggested reply"]
    assert article.body.startswith("## Summary") and store.article("no-such-id") is None
    assert hit.article_id == "abcd/product-defect/initiate-refund"  # the id suggestions already carry


def test_markdown_folder_titles_categories_sections(store, docs):
    report = store.import_path(docs)
    assert report.ok and (report.added, report.failed) == (3, 0)
    assert titles(store) == ["Refund policy", "Resetting a password", "Shipping times"]
    refund = next(a for a in store.articles() if a.title == "Refund policy")
    assert refund.category == "Billing" and refund.source == "docs/billing/refunds.md"
    sections = store.article(refund.id).sections
    assert [h for h, _ in sections] == ["", "Who qualifies", "How long it takes", "How long it takes / Gift cards"]
    shipping = store.article(next(a.id for a in store.articles() if a.title == "Shipping times"))
    assert [h for h, _ in shipping.sections] == ["", "Tracking a parcel"]  # '#' inside a code fence is text
    hits = store.search("how many days until the refund is on my card", k=3)
    assert hits[0].title == "Refund policy" and hits[0].section == "How long it takes"


def test_long_sections_are_cut_into_overlapping_windows():
    words = [f"w{i}" for i in range(300)]
    draft = ArticleDraft("T", "", " ".join(words), (("Long", " ".join(words)), ("Short", "one two")), "x.md")
    chunks = chunk_article(draft)
    long = [text.split() for heading, text in chunks if heading == "Long"]
    assert all(len(c) <= WINDOW_WORDS for c in long) and len(long) == 3
    assert long[1][:OVERLAP_WORDS] == long[0][-OVERLAP_WORDS:]
    assert long[0][0] == "w0" and long[-1][-1] == "w299"
    assert chunks[-1] == ("Short", "one two")


def test_csv_any_case_columns_sniffed_delimiter_and_rows_without_answers(store, tmp_path):
    faq = tmp_path / "faq.csv"
    faq.write_text("Question;ANSWER;Category\nCan I pay with PayPal?;Yes, PayPal is accepted at checkout.;Payments\n"
                   "\"Do you ship abroad; to Canada?\";\"We ship to 40 countries, Canada included.\";Shipping\n"
                   "Is there a phone line?;;Contact\n", encoding="utf-8")
    tsv = tmp_path / "more.tsv"
    tsv.write_text("title\tbody\nStore hours\tOur stores open 9am to 6pm, Monday to Saturday.\n", encoding="utf-8")
    report = store.import_path(faq)
    assert report.ok and report.added == 2
    assert any("row 4 skipped (no answer)" in p for p in report.problems)
    assert store.import_path(tsv).added == 1
    assert titles(store) == ["Can I pay with PayPal?", "Do you ship abroad; to Canada?", "Store hours"]
    assert store.search("paypal", k=1)[0].category == "Payments"


def test_json_list_articles_object_and_the_bundled_kb(store, tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([
        {"title": "Gift wrapping", "content": "We gift-wrap any order for 3 dollars.", "category": "Extras"},
        {"question": "Can I change my email?", "answer": "Yes, under Settings > Account."},
        {"title": "No body here"},
    ]), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"articles": [{"Title": "Loyalty points", "Body": "1 point a dollar."}]}),
                                     encoding="utf-8")
    report = store.import_path(tmp_path / "a.json")
    assert report.ok and report.added == 2 and any("item 3 skipped (no body)" in p for p in report.problems)
    assert store.import_path(tmp_path / "b.json").added == 1
    from assist.replies.kb.entries import default_kb_path

    bundled = store.import_path(default_kb_path())
    assert bundled.ok and bundled.added == 58
    assert "Customer is satisfied / says thanks" in titles(store)


# --- incremental and transactional ----------------------------------------------------------------------


def test_reimport_skips_unchanged_replaces_changed_and_removes_deleted(store, docs, embed):
    first = store.import_path(docs)
    assert first.added == 3 and first.chunks_embedded == store.stats()["chunks"]
    embed.texts = 0
    again = store.import_path(docs)
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 3, 0)
    assert embed.texts == 0  # unchanged files are not even parsed

    (docs / "shipping.md").write_text(SHIPPING.replace("Standard delivery takes 3 to 5",
                                                       "Standard delivery by zeppelin takes 8 to 9"), encoding="utf-8")
    (docs / "password.markdown").unlink()
    (docs / "returns.md").write_text("# Returns\n\nReturn labels are free for members.", encoding="utf-8")
    report = store.import_path(docs)
    assert (report.added, report.updated, report.unchanged, report.removed) == (1, 1, 1, 1)
    assert embed.texts == 2  # the changed section and the new article; the unchanged tracking section is reused
    assert titles(store) == ["Refund policy", "Returns", "Shipping times"]
    assert store.search("zeppelin", k=1)[0].title == "Shipping times"
    assert all(h.title != "Resetting a password" for h in store.search("forgot password link", k=5))
    conn = sqlite3.connect(store.path)
    fts, chunks, vectors = (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                            for t in ("chunks_fts", "chunks", "embeddings"))
    conn.close()
    assert fts == chunks == vectors  # deletes cascade to the index and the embeddings


def test_same_names_in_two_folders_are_two_articles(store, tmp_path):
    for team, text in (("sales", "Quotes are valid for 30 days."), ("support", "Tickets close after 7 days.")):
        (tmp_path / team / "docs").mkdir(parents=True)
        (tmp_path / team / "docs" / "faq.md").write_text(f"# FAQ\n\n{text}", encoding="utf-8")
        assert store.import_path(tmp_path / team / "docs").added == 1
    assert len({a.id for a in store.articles()}) == 2
    assert store.import_path(tmp_path / "sales" / "docs").unchanged == 1


def test_a_malformed_file_fails_the_whole_import_and_leaves_the_kb_untouched(store, docs):
    assert store.import_path(docs).ok
    before = snapshot(store)
    (docs / "shipping.md").write_text(SHIPPING + "\nNew paragraph.", encoding="utf-8")
    (docs / "new.md").write_text("# New\n\nA new article.", encoding="utf-8")
    (docs / "broken.json").write_text('[{"title": "x", "body": "y"},', encoding="utf-8")
    report = store.import_path(docs)
    assert not report.ok and report.failed == 1 and (report.added, report.updated) == (0, 0)
    assert any(p.startswith("docs/broken.json: is not valid JSON (line 1") for p in report.problems)
    assert "unchanged" in report.summary()
    assert snapshot(store) == before


def test_a_database_error_mid_write_rolls_back(store, docs):
    store.import_path(docs)
    before = snapshot(store)
    (docs / "late.md").write_text("# Late\n\nA zz-poison article.", encoding="utf-8")
    (docs / "early.md").write_text("# Early\n\nWritten before the failure.", encoding="utf-8")
    store._conn.execute("CREATE TEMP TRIGGER boom BEFORE INSERT ON chunks WHEN new.text LIKE '%zz-poison%' "
                        "BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END")
    report = store.import_path(docs)
    assert not report.ok and any("disk I/O error (simulated)" in p for p in report.problems)
    assert snapshot(store) == before
    store._conn.execute("DROP TRIGGER boom")
    assert store.import_path(docs).added == 2


def test_an_import_planned_before_another_program_wrote_is_refused(tmp_path, docs, model):
    path, other = tmp_path / "kb.sqlite3", tmp_path / "other.md"
    other.write_text("# Other\n\nWritten by another program meanwhile.", encoding="utf-8")
    with KnowledgeStore(path, embed=model[0], model_id=model[1]) as app, \
            KnowledgeStore(path, embed=model[0], model_id=model[1]) as cli:
        meanwhile = ProgressState(lambda f, message: message.startswith("embedding 0/") and cli.import_path(other))
        report = app.import_path(docs, meanwhile)
        assert not report.ok and "changed by another import; run it again" in report.problems[-1]
        assert titles(app) == ["Other"]
        assert app.import_path(docs).added == 3


def test_an_embedding_failure_or_cancel_changes_nothing(tmp_path, docs, model):
    def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError("out of memory")

    with KnowledgeStore(tmp_path / "kb.sqlite3", embed=broken, model_id="x") as kb:
        report = kb.import_path(docs)
        assert not report.ok and "embedding failed" in report.problems[-1] and kb.articles() == []
    with KnowledgeStore(tmp_path / "kb.sqlite3", embed=model[0], model_id=model[1]) as kb:
        for stage in ("reading", "embedding"):
            report = kb.import_path(docs, CancelAt(stage))
            assert report.cancelled and kb.articles() == [] and "cancelled" in report.summary()


def test_changing_the_embedding_model_reembeds(tmp_path, docs, model):
    path = tmp_path / "kb.sqlite3"
    with KnowledgeStore(path, embed=None) as kb:  # keyword-only import, no model
        assert kb.import_path(docs).ok and kb.stats()["embedded"] == 0
        assert kb.search("refund", k=1)[0].dense is None
    with KnowledgeStore(path, embed=model[0], model_id=model[1]) as kb:
        missing = kb.needs_reembedding()
        assert missing == kb.stats()["chunks"] > 0
        seen: list[float] = []
        assert kb.reembed(ProgressState(lambda f, m: seen.append(f))) == missing and seen[-1] == 1.0
        assert kb.needs_reembedding() == 0 and kb.meta()["embedding_model"] == model[1]
        assert kb.search("money back", k=1)[0].dense is not None
    with KnowledgeStore(path, embed=model[0], model_id="another-model") as kb:
        assert kb.needs_reembedding() == missing


def test_the_user_kb_starts_from_the_bundled_file_and_keeps_its_own_changes(tmp_path, docs, model):
    from assist.replies.kb.seed import open_user_kb

    bundled, user = tmp_path / "bundled.sqlite3", tmp_path / "user" / "kb.sqlite3"
    with KnowledgeStore(bundled, embed=model[0], model_id=model[1]) as kb:
        kb.import_path(docs / "shipping.md")
    with open_user_kb(model[0], model[1], path=user, seed=bundled) as kb:
        assert titles(kb) == ["Shipping times"] and kb.needs_reembedding() == 0
        kb.import_path(docs / "password.markdown")
    with open_user_kb(model[0], model[1], path=user, seed=bundled) as kb:
        assert titles(kb) == ["Resetting a password", "Shipping times"]  # not copied over again
    with KnowledgeStore(bundled) as kb:
        assert titles(kb) == ["Shipping times"]


def test_a_new_user_kb_is_imported_from_a_source_seed_and_a_failed_seed_leaves_nothing(tmp_path, docs, model):
    from assist.replies.kb.seed import open_user_kb

    user = tmp_path / "user" / "kb.sqlite3"
    seen: list[str] = []
    with open_user_kb(model[0], model[1], path=user, seed=docs / "shipping.md",
                      state=ProgressState(lambda f, m: seen.append(m))) as kb:
        assert titles(kb) == ["Shipping times"] and kb.needs_reembedding() == 0
    assert any(m.startswith("knowledge base:") for m in seen)
    assert sorted(p.name for p in user.parent.iterdir() if not p.name.startswith("kb.sqlite3")) == []
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    other = tmp_path / "other" / "kb.sqlite3"
    with pytest.raises(KnowledgeStoreError, match="bundled knowledge base"):
        open_user_kb(model[0], model[1], path=other, seed=bad)
    assert list(other.parent.iterdir()) == []  # no half-built file left to be mistaken for a KB


def test_a_user_kb_from_another_model_is_re_embedded_when_opened(tmp_path, docs, model):
    from assist.replies.kb.seed import open_user_kb

    user = tmp_path / "kb.sqlite3"
    with KnowledgeStore(user) as kb:  # keyword-only, as if built without the model
        kb.import_path(docs / "shipping.md")
    with open_user_kb(model[0], model[1], path=user) as kb:
        assert kb.needs_reembedding() == 0 and kb.stats()["embedded"] == kb.stats()["chunks"]


# --- bad input ------------------------------------------------------------------------------------------


def test_empty_kb_and_empty_folder(store, tmp_path):
    assert store.articles() == [] and store.search("refund please", k=5) == []
    (tmp_path / "empty").mkdir()
    report = store.import_path(tmp_path / "empty")
    assert not report.ok and "empty folder" in report.problems[0]
    missing = store.import_path(tmp_path / "nope")
    assert not missing.ok and "does not exist" in missing.problems[0]
    (tmp_path / "blank.md").write_text("  \n", encoding="utf-8")
    blank = store.import_path(tmp_path / "blank.md")
    assert not blank.ok and blank.failed == 1 and "the file is empty" in blank.problems[0]


def test_a_50_mb_file_is_refused_unread(store, tmp_path, monkeypatch):
    big = tmp_path / "huge.csv"
    row = "question,answer\n" + "How do I track my order?,Use the link in the email.\n" * 20
    with big.open("w", encoding="utf-8") as handle:
        while handle.tell() < 50 * 2**20:
            handle.write(row)
    assert big.stat().st_size > MAX_FILE_BYTES
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read"))
    report = store.import_path(big)
    assert not report.ok and report.failed == 1
    assert "huge.csv: 50.0 MB is over the 20 MB limit" in report.problems[0] and store.articles() == []


@pytest.mark.parametrize(("name", "content", "why"), [
    ("a.csv", "name,comment\nx,y\n", "needs columns question/answer or title/body; found: name, comment"),
    ("b.csv", 'question,answer\n"unclosed quote,oops\n', "is not valid CSV"),
    ("c.csv", "question,answer\nq,a,extra\n", "row 2 has 3 fields; the header has 2"),
    ("d.json", "{not json", "is not valid JSON (line 1, column 2"),
    ("e.json", '{"faq": 3}', 'expected a list of articles or {"articles": [...]}'),
    ("f.json", '["just a string"]', "item 1 is str, not an object"),
    ("g.md", "---\ntitle: Open\n\nBody without a closing line", "front matter opened with '---' on line 1 is never"),
    ("h.md", "---\njust words\n---\n# T\n\ntext", "front matter line 2 is not 'key: value'"),
])
def test_malformed_files_are_named_with_the_reason(store, tmp_path, name, content, why):
    (tmp_path / name).write_text(content, encoding="utf-8")
    report = store.import_path(tmp_path / name)
    assert not report.ok and report.failed == 1
    assert report.problems[0].startswith(f"{name}: ") and why in report.problems[0], report.problems
    assert store.articles() == []


def test_duplicates_are_kept_once_and_reported(store, tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "one.csv").write_text("title,body\nOpening hours,We open at 9.\nOpening hours,We  open at 9.\n"
                                    "Closing,We close at 6.\n", encoding="utf-8")
    (folder / "two.json").write_text(json.dumps([{"title": "opening HOURS", "body": "We open at 9."}]),
                                     encoding="utf-8")
    report = store.import_path(folder)
    assert report.ok and (report.added, report.duplicates) == (2, 2)
    assert sum("duplicate of an article already imported ('Opening hours')" in p for p in report.problems) == 1
    assert titles(store) == ["Closing", "Opening hours"]
    (tmp_path / "again.md").write_text("# Opening hours\n\nWe open at 9.", encoding="utf-8")
    assert store.import_path(tmp_path / "again.md").duplicates == 1  # against what the KB already holds


def test_non_utf8_files_fall_back_to_windows_1252(store, tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "cafe.md").write_bytes("# Caf\xe9 orders\n\nWe don\x92t charge for oat milk.".encode("latin-1"))
    (folder / "bom.csv").write_bytes(b"\xef\xbb\xbfquestion,answer\nBOM?,Read as UTF-8.\n")
    (folder / "utf16.md").write_bytes("# Unicode\n\nUTF-16 text, ça marche.".encode("utf-16"))
    (folder / "garbage.md").write_bytes(b"# Bad\n\n\x81\x8d\x8f\x90\x9d")
    report = store.import_path(folder)
    assert report.ok and report.added == 3 and report.failed == 1
    assert "kb/cafe.md: not valid UTF-8, read as Windows-1252" in report.problems
    assert any("garbage.md: skipped, neither UTF-8 nor Windows-1252" in p for p in report.problems)
    assert set(titles(store)) == {"Café orders", "BOM?", "Unicode"}
    assert "don’t" in store.search("oat milk", k=1)[0].text


def test_binary_files_in_the_folder_are_skipped_and_reported(store, docs):
    (docs / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    (docs / "notes.md").write_bytes(b"# Notes\x00\x01\x02" + bytes(100))
    report = store.import_path(docs)
    assert report.ok and report.added == 3 and report.failed == 2
    assert "docs/logo.png: skipped, not a Markdown, CSV or JSON file" in report.problems
    assert "docs/notes.md: skipped, a binary file (not text)" in report.problems


def test_not_a_knowledge_base_file(tmp_path):
    text = tmp_path / "notes.sqlite3"
    text.write_text("hello")
    with pytest.raises(KnowledgeStoreError, match="not an SQLite file"):
        KnowledgeStore(text)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(KnowledgeStoreError, match="belongs to another program"):
        KnowledgeStore(other)
    with pytest.raises(KnowledgeStoreError, match="is a folder"):
        KnowledgeStore(tmp_path)


def test_markdown_without_front_matter_or_title_uses_the_file_name():
    draft = read_markdown("Just a paragraph.\n\n## Details\nMore.", "x/late-orders.md", "late-orders")
    assert draft.title == "late orders" and [h for h, _ in draft.sections] == ["", "Details"]


# --- search ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    'refund AND "order', "refund OR NOT (", "NEAR(refund money, 2)", "refund*", "title:refund", "^refund -money",
    "refund's \"money\" back?!", "rembolso reembolso ça coûte 5 €", "💸 refund 💸", "AND", '"', "()", "   ",
])
def test_fts_syntax_in_queries_is_never_an_error(store, docs, query):
    store.import_path(docs)
    hits = store.search(query, k=3)
    if "refund" in query.lower():
        assert any(h.bm25_rank is not None and h.title == "Refund policy" for h in hits)
    match = fts_query(query)
    assert all(part.startswith('"') and part.endswith('"') for part in match.split(" OR ") if match)


def test_hits_carry_scores_ranks_and_can_be_one_per_article(store, docs):
    store.import_path(docs)
    hits = store.search("refund gift card store credit", k=4)
    assert [h.fused for h in hits] == sorted((h.fused for h in hits), reverse=True)
    assert hits[0].title == "Refund policy" and hits[0].bm25 > 0 and -1 <= hits[0].dense <= 1
    one_each = store.search("refund gift card store credit", k=3, max_per_article=1)
    assert len({h.article_id for h in one_each}) == len(one_each) == 3
    query = store.embed(["parcel tracking number"])[0]
    assert store.search("parcel tracking number", query_embedding=query, k=1)[0].section == "Tracking a parcel"


# --- command line ---------------------------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    from assist.app.cli.kb import add_kb_commands

    parser = argparse.ArgumentParser()
    add_kb_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_import_list_show_search(tmp_path, docs, capsys):
    kb = str(tmp_path / "cli.sqlite3")
    assert run_cli(["kb", "import", str(docs), "--kb", kb]) == 0
    assert "3 added, 0 updated, 0 unchanged, 0 removed" in capsys.readouterr().out
    assert run_cli(["kb", "list", "--kb", kb, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["store"]["articles"] == 3 and {a["title"] for a in listed["articles"]} >= {"Refund policy"}
    assert run_cli(["kb", "search", "how long does a refund take", "--kb", kb, "--k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert len(hits) == 2 and hits[0]["title"] == "Refund policy" and hits[0]["dense"] is not None
    assert run_cli(["kb", "show", hits[0]["article_id"], "--kb", kb]) == 0
    assert "# Refund policy" in capsys.readouterr().out
    assert run_cli(["kb", "show", "nope", "--kb", kb]) == 1
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    assert run_cli(["kb", "import", str(tmp_path / "bad.csv"), "--kb", kb]) == 1
    assert "needs columns question/answer" in capsys.readouterr().err


def test_a_second_handle_in_this_process_never_lets_another_process_delete_the_log(tmp_path, docs):
    """Closing any handle on a file drops all of a process's POSIX locks on it: had we read the header ourselves,
    another program's last connection would take the KB for unused and delete its -wal/-shm under us."""
    import subprocess
    import sys

    path = tmp_path / "kb.sqlite3"
    first = KnowledgeStore(path)
    first.import_path(docs / "shipping.md")
    second = KnowledgeStore(path)
    second.close()
    code = f"from assist.replies.kb.store import KnowledgeStore; KnowledgeStore({str(path)!r}).close()"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
    assert (tmp_path / "kb.sqlite3-wal").exists() and (tmp_path / "kb.sqlite3-shm").exists()
    assert first.stats()["articles"] == 1 and first.search("shipping", k=1)
    first.close()
