"""The window's knowledge tools with the real worker: the KB tab, a reply's source, the next-step checklist, the
language model's draft card, and the Macros dialog feeding the ranker."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt

from assist.domain import Role
from assist.pipeline.controller import SessionController
from assist.pipeline.drafts import DraftUpdate
from assist.pipeline.replies import ReplyService
from assist.replies.macros.bank import MacroBank, make_macro
from assist.replies.procedures.tracker import ProcedureTracker, load_procedures
from tests.gui.test_gui import build, send  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.gui


@pytest.fixture
def tool_parts(qtbot, build, engines, tmp_path):  # noqa: F811 - the imported fixture
    bank = MacroBank(tmp_path / "macros.json")
    bank.add(make_macro("Tracking link", "You can follow the parcel here: {tracking_url}", intents="track_order"))
    loaded = replace(engines, macros=bank)
    window, worker, thread = build(lambda state: loaded, lambda e: SessionController(
        e, replies=ReplyService(e.macros), procedures=ProcedureTracker(load_procedures())))
    thread.start()
    qtbot.waitUntil(lambda: window.model_ready, timeout=30000)
    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.session is not None, timeout=10000)
    return window, worker, bank


def test_the_kb_tab_opens_with_the_engines_and_a_reply_opens_its_source(qtbot, tool_parts):
    window, worker, _ = tool_parts
    tools = window.tools
    assert tools.panel._store is not None and tools.panel.results.count() > 0  # the article list
    (insight,) = send(qtbot, window, worker, Role.CUSTOMER, "I forgot my password and the reset link expired")
    row = next(i for i, s in enumerate(insight.suggestions) if not s.kb_entry_id.startswith("macro:"))
    window.suggestions.list.setCurrentRow(row)
    assert window.suggestions.source_button.isEnabled()
    qtbot.mouseClick(window.suggestions.source_button, Qt.MouseButton.LeftButton)
    assert window.left_tabs.currentIndex() == tools.kb_tab
    assert tools.panel.current_article == insight.suggestions[row].kb_entry_id
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)  # Ctrl+K: back to the conversation
    assert window.left_tabs.currentIndex() == 0


def test_the_next_step_checklist_follows_the_conversation(qtbot, tool_parts):
    window, worker, _ = tool_parts
    assert window.next_step.checklist is None
    send(qtbot, window, worker, Role.CUSTOMER, "Hi, I want to return a pair of jeans, they are the wrong size")
    qtbot.waitUntil(lambda: window.next_step.checklist is not None, timeout=5000)
    first = window.next_step.checklist
    assert first.next_step is not None and first.next_step.id == "pull-up-account"
    window.set_role(Role.AGENT)
    window.input.setPlainText("Sure, may I have your full name or account ID please?")
    window.send()
    send(qtbot, window, worker, Role.CUSTOMER, "Crystal Minh")
    qtbot.waitUntil(lambda: window.next_step.checklist.next_step.id != "pull-up-account", timeout=5000)
    assert window.next_step.list.item(0).text().startswith("✓")


def test_the_draft_card_shows_the_latest_message_s_draft_only(qtbot, tool_parts):
    window, worker, _ = tool_parts
    panel = window.suggestions
    early = DraftUpdate("not-yet-shown", "Draft for a message whose Insight is not on screen yet")
    window.on_draft(early)
    assert not panel.draft_box.isVisible()
    (insight,) = send(qtbot, window, worker, Role.CUSTOMER, "Where is my parcel?")
    assert not panel.draft_box.isVisible()  # the early draft was for another message
    window.on_draft(DraftUpdate(insight.message_id, "Your parcel", model="tiny"))
    assert panel.draft_box.isVisible() and "writing" in panel.draft_title.text()
    assert not panel.draft_insert.isEnabled()  # not while it is still being written
    window.on_draft(DraftUpdate(insight.message_id, "Your parcel ships today [1].", done=True, model="tiny",
                                warning="Check before sending: not in the cited passages: 'today'.",
                                sources=("Shipping times",)))
    assert "today" in panel.draft_warning.text() and "Cites: Shipping times" in panel.draft_warning.text()
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.AltModifier)
    assert window.input.toPlainText() == "Your parcel ships today [1]." and window.role is Role.AGENT
    send(qtbot, window, worker, Role.CUSTOMER, "ok thanks")
    assert not panel.draft_box.isVisible()  # a new customer message: the old draft goes


def test_a_macro_added_in_the_dialog_is_ranked_from_the_next_message(qtbot, tool_parts):
    window, worker, bank = tool_parts
    assert window.tools.macros_action.isEnabled()
    window.tools.macros_action.trigger()
    dialog = window.tools.dialog
    assert dialog is not None and dialog.isVisible()
    bank.add(make_macro("Warranty", "Electronics carry a two-year warranty; I can open a claim for you now.",
                        intents="check_refund_policy"))
    dialog.bank_changed.emit()
    qtbot.waitUntil(lambda: worker.controller.replies.matcher is not None
                    and len(worker.controller.replies.matcher.macros) == 2, timeout=5000)
    (insight,) = send(qtbot, window, worker, Role.CUSTOMER, "what is your warranty on electronics, can I claim it?")
    assert any(s.source_title == "Warranty" for s in insight.suggestions)
    dialog.close()


def test_about_shows_the_one_version_and_the_loaded_models(qtbot, tool_parts):
    from assist import __version__

    window, _, _ = tool_parts
    box = window.show_about()
    assert f"Assist {__version__}" in box.text() and "text-" in box.text() and "articles" in box.text()
    from assist.paths import user_folders

    assert str(user_folders()["data"]) in box.text() and "assist data remove" in box.text()
    box.close()


def test_settings_shows_the_models_and_verifies_them(qtbot, tool_parts):
    window, _, _ = tool_parts
    window.settings_action.trigger()
    dialog = window.settings_dialog
    page = dialog.models
    names = {page.table.item(r, 0).text() for r in range(page.table.rowCount())}
    assert {"text", "voice", "fusion", "asr-whisper-tiny.en", "ocr-ppocr"} <= names
    dialog.close()
