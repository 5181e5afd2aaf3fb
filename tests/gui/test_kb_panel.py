"""The knowledge-base panel (offscreen): list, search as you type, read an article, import on a thread, cancel."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from assist.gui.kb_panel import KnowledgePanel, snippet
from assist.replies.kb.store import KnowledgeStore

pytestmark = pytest.mark.gui

REFUND = """---
title: Refund policy
category: Billing
---
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
"""

PASSWORD = """# Resetting a password

## Steps
Open the sign-in page, choose "Forgot password" and follow the link we email you. The link expires after an hour.
"""


class SlowEmbed:
    """A fake embedding function that takes its time per batch (to cancel an import midway)."""

    def __init__(self, seconds: float = 0.3) -> None:
        self.seconds, self.calls = seconds, 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        time.sleep(self.seconds)
        return np.random.default_rng(len(texts)).standard_normal((len(texts), 16)).astype(np.float32)


def write_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("refund.md", REFUND), ("shipping.md", SHIPPING), ("password.md", PASSWORD)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def store(tmp_path):
    with KnowledgeStore(tmp_path / "kb.sqlite3") as kb:
        assert kb.import_path(write_docs(tmp_path / "docs")).added == 3
        yield kb


@pytest.fixture
def make_panel(qtbot, request):
    """A shown panel whose import thread is always stopped, even when the test fails."""

    def make(store: KnowledgeStore | None, **kwargs) -> KnowledgePanel:
        panel = KnowledgePanel(store, **kwargs)
        qtbot.addWidget(panel)
        panel.resize(700, 800)
        panel.show()
        qtbot.waitExposed(panel)
        request.addfinalizer(lambda: _stopped(panel))
        return panel

    return make


def _stopped(panel: KnowledgePanel) -> None:
    assert panel.shutdown(), "the import thread did not stop"


def texts(panel: KnowledgePanel) -> list[str]:
    return [panel.results.item(n).text() for n in range(panel.results.count())]


def test_an_empty_query_lists_every_article_by_title_with_the_count(make_panel, store):
    panel = make_panel(store)
    assert panel.header.text() == "3 articles"
    assert [t.splitlines()[0] for t in texts(panel)] == ["Refund policy", "Resetting a password", "Shipping times"]
    assert "Billing · docs/refund.md" in texts(panel)[0]


def test_search_as_you_type_is_debounced_and_finds_the_passage(qtbot, make_panel, store):
    panel = make_panel(store)
    qtbot.keyClicks(panel.search_box, "tracking number")
    assert panel.header.text() == "3 articles"  # not yet: the search waits for a pause in typing
    qtbot.waitUntil(lambda: "passage" in panel.header.text(), timeout=2000)
    first = texts(panel)[0].splitlines()
    assert first[0] == "Shipping times — Tracking a parcel"
    assert "tracking number" in first[1]
    assert first[2].startswith("docs/shipping.md · words #1")
    assert panel.results.currentRow() == 0


def test_enter_searches_at_once_and_up_down_pick_the_result_to_open(qtbot, make_panel, store):
    panel = make_panel(store)
    panel.search_box.setText("refund gift card")
    with qtbot.waitSignal(panel.article_opened, timeout=1000) as opened:
        qtbot.keyClick(panel.search_box, Qt.Key.Key_Return)
    assert "passages for “refund gift card”" in panel.header.text()
    assert texts(panel)[0].startswith("Refund policy — How long it takes / Gift cards")
    assert opened.args == [panel.current_article]
    assert panel.current_section == "How long it takes / Gift cards"
    assert "Refund policy" in panel.viewer.toPlainText()

    panel.search("parcel")
    assert panel.results.count() >= 2
    second = panel.results.item(1).data(Qt.ItemDataRole.UserRole)
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Down)
    assert panel.results.currentRow() == 1
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Up)
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Up)  # stays on the first
    assert panel.results.currentRow() == 0
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Down)
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Return)
    assert (panel.current_article, panel.current_section) == second
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Escape)
    assert panel.search_box.text() == ""
    qtbot.waitUntil(lambda: panel.header.text() == "3 articles", timeout=2000)


def test_opening_an_article_shows_its_sections_and_highlights_the_matched_one(qtbot, make_panel, store):
    panel = make_panel(store)
    refund = next(a.id for a in store.articles() if a.title == "Refund policy")
    with qtbot.waitSignal(panel.article_opened, timeout=1000):
        assert panel.open_article(refund, "Who qualifies")
    shown = panel.viewer.toPlainText()
    for part in ("Refund policy", "Billing · docs/refund.md", "Customers can get their money back", "Who qualifies",
                 "original packaging", "How long it takes / Gift cards", "store credit"):
        assert part in shown
    marked = {b.text() for b in _blocks(panel.viewer) if b.blockFormat().background().style() != Qt.BrushStyle.NoBrush}
    assert marked == {"Who qualifies", next(line for line in REFUND.splitlines() if line.startswith("Any unused"))}

    assert panel.open_article(refund)  # no section: nothing highlighted, scrolled to the top
    assert not any(b.blockFormat().background().style() != Qt.BrushStyle.NoBrush for b in _blocks(panel.viewer))
    assert not panel.open_article("no-such-article")
    assert "not in the knowledge base" in panel.viewer.toPlainText()


def test_a_long_article_scrolls_to_the_matched_section(qtbot, make_panel, tmp_path):
    """Its own text may hold setext headings ('Note' over '---'); the right section is still found."""
    parts = [f"## Part {n}\nPart {n} explains step {n} in words of its own.\n\nNote\n---\nMore about {n}."
             for n in range(30)]
    (tmp_path / "long.md").write_text("# Long manual\n\n" + "\n\n".join(parts) + "\n", encoding="utf-8")
    with KnowledgeStore(tmp_path / "kb.sqlite3") as store:
        store.import_path(tmp_path / "long.md")
        panel = make_panel(store)
        assert panel.open_article(store.articles()[0].id, "Part 10")
        marked = [b for b in _blocks(panel.viewer) if b.blockFormat().background().style() != Qt.BrushStyle.NoBrush]
        assert [b.text() for b in marked] == ["Part 10", "Part 10 explains step 10 in words of its own.", "Note",
                                              "More about 10."]
        bar = panel.viewer.verticalScrollBar()
        top = panel.viewer.document().documentLayout().blockBoundingRect(marked[0]).top()
        assert 0 < bar.value() < bar.maximum() and abs(bar.value() - top) < 2  # its heading at the top


def _blocks(viewer):
    block = viewer.document().begin()
    while block.isValid():
        yield block
        block = block.next()


def test_an_empty_kb_says_to_import_articles_and_importing_a_folder_fills_it(qtbot, make_panel, tmp_path,
                                                                               monkeypatch):
    with KnowledgeStore(tmp_path / "kb.sqlite3") as store:
        panel = make_panel(store)
        assert "empty" in panel.header.text() and "Import folder…" in panel.header.text()
        assert panel.results.count() == 0
        monkeypatch.setattr(panel, "_ask_folder", lambda: str(write_docs(tmp_path / "docs")))
        seen: list[int] = []
        panel.progress.valueChanged.connect(seen.append)
        changed: list[bool] = []
        panel.kb_changed.connect(lambda: changed.append(True))
        with qtbot.waitSignal(panel.import_finished, timeout=10000) as finished:
            qtbot.mouseClick(panel.import_folder_button, Qt.MouseButton.LeftButton)
            assert panel.is_importing() and not panel.import_folder_button.isEnabled()
        report = finished.args[0]
        assert report.ok and report.added == 3
        assert changed == [True]
        assert seen and max(seen) == 1000
        assert not panel.is_importing() and panel.import_folder_button.isEnabled()
        assert not panel.progress.isVisible() and not panel.cancel_button.isVisible()
        assert panel.header.text() == "3 articles"
        assert panel.import_status.text() == "docs: 3 added, 0 updated, 0 unchanged, 0 removed."


def test_cancel_stops_the_import_and_leaves_the_kb_as_it_was(qtbot, make_panel, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(60):  # 300 passages: five batches of embeddings
        sections = "\n\n".join(f"## Part {p}\nArticle {n} part {p} says something of its own." for p in range(5))
        (folder / f"a{n:02}.md").write_text(f"# Article {n}\n\n{sections}\n", encoding="utf-8")
    slow = SlowEmbed()
    with KnowledgeStore(tmp_path / "kb.sqlite3", embed=slow, model_id="slow-fake") as store:
        panel = make_panel(store)
        changed: list[bool] = []
        panel.kb_changed.connect(lambda: changed.append(True))
        assert panel.import_path(folder)
        assert not panel.import_path(folder)  # one import at a time
        qtbot.waitUntil(lambda: panel.progress_label.text().startswith("embedding"), timeout=10000)
        with qtbot.waitSignal(panel.import_finished, timeout=10000) as finished:
            qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        assert finished.args[0].cancelled
        assert slow.calls < 5
        assert changed == []
        assert store.stats()["articles"] == 0 and "empty" in panel.header.text()
        assert "import cancelled; the knowledge base is unchanged" in panel.import_status.text()
        assert not panel.is_importing()


def test_closing_the_panel_during_an_import_cancels_it_and_waits(qtbot, make_panel, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(70):
        (folder / f"a{n:02}.md").write_text(f"# Article {n}\n\nText number {n}.\n", encoding="utf-8")
    with KnowledgeStore(tmp_path / "kb.sqlite3", embed=SlowEmbed(0.5), model_id="slow-fake") as store:
        panel = make_panel(store)
        assert panel.import_path(folder)
        qtbot.waitUntil(lambda: panel.progress_label.text().startswith("embedding"), timeout=10000)
        panel.close()
        assert not panel.is_importing()
        assert store.stats()["articles"] == 0


@pytest.mark.parametrize(("name", "content", "why"), [
    ("broken.json", '[{"title": "x", "body": "y"},', "is not valid JSON (line 1"),
    ("faq.csv", "name,phone\nAnn,555\n", "needs columns question/answer or title/body; found: name, phone"),
])
def test_a_malformed_file_shows_the_problem_and_leaves_the_kb_unchanged(qtbot, make_panel, store, tmp_path,
                                                                        monkeypatch, name, content, why):
    bad = tmp_path / "incoming"
    bad.mkdir()
    (bad / name).write_text(content, encoding="utf-8")
    (bad / "good.md").write_text("# Opening hours\n\nWe open at 9.\n", encoding="utf-8")
    panel = make_panel(store)
    changed: list[bool] = []
    panel.kb_changed.connect(lambda: changed.append(True))
    for button, ask, target in ((panel.import_file_button, "_ask_file", bad / name),
                                (panel.import_folder_button, "_ask_folder", bad)):
        monkeypatch.setattr(panel, ask, lambda target=target: str(target))
        with qtbot.waitSignal(panel.import_finished, timeout=10000) as finished:
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert not finished.args[0].ok
        status = panel.import_status.text()
        assert "import failed; the knowledge base is unchanged" in status and why in status
        assert panel.header.text() == "3 articles"
    assert changed == []
    assert "Opening hours" not in "".join(texts(panel))


def test_a_cancelled_dialog_starts_nothing(qtbot, make_panel, store, monkeypatch):
    panel = make_panel(store)
    monkeypatch.setattr(panel, "_ask_file", lambda: "")
    qtbot.mouseClick(panel.import_file_button, Qt.MouseButton.LeftButton)
    assert not panel.is_importing() and not panel.import_status.isVisible()


def test_no_store_says_why_and_offers_nothing_to_click(make_panel):
    panel = make_panel(None, reason="kb.sqlite3 is not a knowledge base (not an SQLite file).")
    assert panel.header.text() == "No knowledge base is open. kb.sqlite3 is not a knowledge base (not an SQLite file)."
    assert not panel.search_box.isEnabled() and not panel.import_folder_button.isEnabled()
    assert not panel.import_file_button.isEnabled()
    assert not panel.import_path("/tmp") and not panel.open_article("x")


@pytest.mark.parametrize("query", ['refund AND ("', 'refund NEAR(', '"refund', "refund*", "-refund:", "(", '"'])
def test_search_syntax_characters_are_words_not_errors(qtbot, make_panel, store, query):
    panel = make_panel(store)
    panel.search_box.setText(query)
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Return)
    assert "failed" not in panel.header.text()
    if "refund" in query:
        assert texts(panel)[0].startswith("Refund policy")
    else:
        assert panel.header.text().startswith("Nothing in the knowledge base matches")


def test_a_failing_query_embedding_is_shown_in_words(qtbot, make_panel, tmp_path):
    with KnowledgeStore(tmp_path / "kb.sqlite3", embed=SlowEmbed(0), model_id="fake") as store:
        store.import_path(write_docs(tmp_path / "docs"))

        def broken(texts):
            raise RuntimeError("the text model is not loaded")

        store.embed = broken
        panel = make_panel(store)
        panel.search("refund")
        assert panel.header.text() == "The search failed: the text model is not loaded"
        assert panel.results.count() == 0


def test_focus_search_selects_the_query(qtbot, make_panel, store):
    panel = make_panel(store)
    panel.search("refund")
    panel.activateWindow()
    panel.results.setFocus()
    panel.focus_search()
    qtbot.waitUntil(panel.search_box.hasFocus, timeout=1000)
    assert panel.search_box.selectedText() == "refund"


def test_a_snippet_is_cut_around_the_first_query_word():
    text = " ".join(f"w{n}" for n in range(200)) + " the refund arrives in a week " + "tail " * 50
    cut = snippet(text, "refunds", width=80)
    assert cut.startswith("… ") and cut.endswith(" …") and "refund arrives" in cut and len(cut) <= 84
    assert snippet("short text", "missing") == "short text"


@pytest.mark.slow
def test_search_by_meaning_with_the_real_embedder(qtbot, make_panel, tmp_path):
    from assist.app.cli.kb import text_embedder

    embed, model_id = text_embedder()
    with KnowledgeStore(tmp_path / "kb.sqlite3", embed=embed, model_id=model_id) as store:
        panel = make_panel(store)
        with qtbot.waitSignal(panel.kb_changed, timeout=30000):
            panel.import_path(write_docs(tmp_path / "docs"))
        assert store.stats()["embedded"] == store.stats()["chunks"] > 0
        panel.search("I can't log into my account")  # no word in common with the password article
        first = texts(panel)[0].splitlines()
        assert first[0] == "Resetting a password — Steps"
        assert first[2] == "docs/password.md · meaning #1"


def test_the_json_report_lists_problems_in_words(qtbot, make_panel, store, tmp_path):
    """Notes about skipped items come back too, not only failures."""
    (tmp_path / "faq.json").write_text(json.dumps([{"title": "Opening hours", "body": "We open at 9."},
                                                   {"title": "No body here"}]), encoding="utf-8")
    panel = make_panel(store)
    with qtbot.waitSignal(panel.kb_changed, timeout=10000):
        panel.import_path(tmp_path / "faq.json")
    assert "faq.json: 1 added" in panel.import_status.text()
    assert "• faq.json: item 2 skipped (no body)" in panel.import_status.text()
    assert panel.header.text() == "4 articles"


@pytest.mark.slow
def test_abcd_guidelines_import_through_the_panel_and_open_as_procedures(qtbot, make_panel, tmp_path, monkeypatch):
    from support import data_dir

    guidelines = data_dir() / "abcd" / "guidelines.json"
    with KnowledgeStore(tmp_path / "kb.sqlite3") as store:
        panel = make_panel(store)
        monkeypatch.setattr(panel, "_ask_file", lambda: str(guidelines))
        with qtbot.waitSignal(panel.import_finished, timeout=30000) as finished:
            qtbot.mouseClick(panel.import_file_button, Qt.MouseButton.LeftButton)
        assert finished.args[0].ok and finished.args[0].added > 50
        assert panel.open_article("abcd/product-defect/initiate-refund")
        shown = panel.viewer.toPlainText()
        assert "Initiate Refund" in shown and "Steps" in shown and "Suggested reply" in shown
