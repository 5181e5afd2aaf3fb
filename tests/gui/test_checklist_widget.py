"""The next-best-action panel: title, ticks, the next step in bold, evidence as tooltips, cheap updates."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

from assist.gui.checklist import DONE_COLOUR, NO_PROCEDURE, PENDING_COLOUR, NextActionPanel
from assist.replies.procedures.tracker import Procedure, ProcedureStep, ProcedureTracker

pytestmark = pytest.mark.gui

RETURN = Procedure("abcd/product-defect/return-due-to-size", "Return Due to Size", "Product Defect", "return_size", (
    ProcedureStep("pull-up-account", "Pull up account", "Get Full Name or Account ID"),
    ProcedureStep("validate-purchase", "Validate purchase", "Username; Email Address; Order ID"),
    ProcedureStep("membership", "Check membership level", "Confirm their order can be returned"),
    ProcedureStep("end-conversation", "End conversation", "If the customer cannot return",
                  optional=True),
    ProcedureStep("update-order", "Update order", "By Mail, In Store or Drop off Center"),
))
STATUS = Procedure("abcd/product-defect/refund-status", "Refund Status", "Product Defect", "refund_status", (
    ProcedureStep("pull-up-account", "Pull up account", "Get Full Name or Account ID"),
    ProcedureStep("notify-team", "Notify internal team", "Escalate to the manager"),
))


@pytest.fixture
def panel(qtbot):
    widget = NextActionPanel()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def tracker():
    tracker = ProcedureTracker([RETURN, STATUS], patience=1)
    tracker.select([RETURN.article_id])
    return tracker


def rows(panel: NextActionPanel) -> list[str]:
    return [panel.list.item(i).text() for i in range(panel.list.count())]


def test_no_procedure_yet(panel):
    panel.show_checklist(None)
    assert panel.title.text() == NO_PROCEDURE
    assert panel.list.count() == 0


def test_ticks_next_step_and_tooltips(panel, tracker):
    tracker.observe("agent", "May I have your name please?")
    tracker.observe("customer", "Crystal Minh")
    panel.show_checklist(tracker.checklist())
    assert panel.title.text() == "Return Due to Size (1/5)"
    assert rows(panel)[0] == "✓ Pull up account"
    assert rows(panel)[1] == "➜ Validate purchase"
    assert rows(panel)[3].strip() == "End conversation (if needed)"
    done, nxt, rest = panel.list.item(0), panel.list.item(1), panel.list.item(2)
    assert done.foreground().color() == DONE_COLOUR
    assert rest.foreground().color() == PENDING_COLOUR
    assert nxt.font().bold() and not done.font().bold() and not rest.font().bold()
    assert "Crystal Minh" in done.toolTip()
    assert nxt.toolTip() == "Username; Email Address; Order ID"
    assert panel.hint.text().startswith("Next: Validate purchase.")
    assert nxt.data(Qt.ItemDataRole.UserRole) == "validate-purchase"


def test_updates_reuse_the_rows_and_a_new_procedure_rebuilds_them(panel, tracker):
    panel.show_checklist(tracker.checklist())
    first_rows = [panel.list.item(i) for i in range(panel.list.count())]
    list_height = panel.list.height()
    for text in ("Username: cminh730", "cminh730@email.com", "Order ID: 3348917502"):
        tracker.observe("customer", text)
    panel.show_checklist(tracker.checklist())
    assert [panel.list.item(i) for i in range(panel.list.count())] == first_rows
    assert rows(panel)[:3] == ["➜ Pull up account", "✓ Validate purchase", "    Check membership level"], \
        "steps tick in any order; the next step is the first one not done"
    assert panel.list.height() == list_height
    tracker.observe("customer", "My name is Crystal Minh")
    tracker.observe("agent", "I have let my manager know, they will call you.")
    assert tracker.select([STATUS.article_id])
    panel.show_checklist(tracker.checklist())
    assert rows(panel) == ["✓ Pull up account", "✓ Notify internal team"]
    assert panel.hint.text() == "All steps done."
    assert panel.list.height() == list_height
    panel.show_checklist(None)
    assert panel.title.text() == NO_PROCEDURE and panel.list.count() == 0 and panel.hint.text() == ""


def test_same_checklist_again_changes_nothing(panel, tracker):
    checklist = tracker.checklist()
    panel.show_checklist(checklist)
    panel.list.item(0).setText("marker")
    panel.show_checklist(tracker.checklist())  # equal value: skipped
    assert panel.list.item(0).text() == "marker"
    assert panel.checklist == checklist


@pytest.mark.slow
def test_panel_imports_no_pipeline_or_inference():
    code = ("import sys, assist.gui.checklist; bad = [m for m in sys.modules if m.startswith(('assist.pipeline', "
            "'assist.inference', 'assist.capture', 'assist.storage'))]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
