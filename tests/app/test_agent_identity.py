"""Issue 17 (8): who the agent is — set in settings.json, in Settings or at the first start, shown in the status bar
and recorded on every session (so review's agent filter and the team summary work)."""

from __future__ import annotations

import argparse
import json

import pytest
from PySide6.QtCore import QObject, Signal

from assist.app.cli.main import build_parser
from assist.app.gui_main import _agent_identity
from assist.app.settings import apply_settings, clean_name, load_settings, save_settings
from assist.domain import Role
from assist.gui.main_window import MainWindow
from assist.gui.settings_dialog import SettingsDialog
from assist.pipeline.assembly import session_controller


def test_settings_hold_the_agent_and_saving_keeps_every_other_key(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"chat_feed": True, "some_future_key": [1, 2]}), encoding="utf-8")
    assert save_settings({"agent_name": "Maria Lopez", "team": "Returns"}, path) == ""
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved == {"chat_feed": True, "some_future_key": [1, 2], "agent_name": "Maria Lopez", "team": "Returns"}
    settings, problem = load_settings(path)
    assert settings["agent_name"] == "Maria Lopez" and settings["team"] == "Returns"
    args = build_parser().parse_args(["run"])
    apply_settings(args, settings)
    assert args.agent_name == "Maria Lopez" and args.team == "Returns"
    args = build_parser().parse_args(["run", "--agent-name", "Sam"])  # the command line wins
    apply_settings(args, settings)
    assert args.agent_name == "Sam"
    assert clean_name("  Maria \n Lopez ") == "Maria Lopez" and len(clean_name("x" * 500)) == 80
    (tmp_path / "bad.json").write_text("[1]", encoding="utf-8")
    assert "does not hold a JSON object" in save_settings({"agent_name": "x"}, tmp_path / "bad.json")


def test_every_session_records_the_agent_and_a_change_applies_to_the_next(engines, recording_journal):
    controller = session_controller(engines, journal=recording_journal, agent=" Maria Lopez ", team="Returns")
    first = controller.start_session()
    controller.submit(Role.CUSTOMER, "where is my parcel")
    assert first.agent == "Maria Lopez" and first.team == "Returns"
    screenshot_like = controller.start_session(source="screenshot")  # sessions the capture paths start too
    assert screenshot_like.agent == "Maria Lopez"
    controller.agent = "Sam"
    assert controller.start_session().agent == "Sam"
    recorded = [args[0].agent for args in recording_journal.named("start_session")]
    assert recorded == ["Maria Lopez", "Maria Lopez", "Sam"]


class WorkerDouble(QObject):
    request_agent = Signal(str, str)


@pytest.mark.gui
def test_settings_agent_page_saves_shows_and_tells_the_worker(qtbot, tmp_path):
    window = MainWindow()
    qtbot.addWidget(window)
    worker = WorkerDouble()
    told: list[tuple[str, str]] = []
    worker.request_agent.connect(lambda name, team: told.append((name, team)))
    args = argparse.Namespace(command="demo", offscreen=True, settings=tmp_path / "settings.json")
    _agent_identity(args, window, worker, "")
    assert window.agent_label.text() == "Agent: not set"
    dialog = SettingsDialog(window)
    qtbot.addWidget(dialog)
    assert dialog.tabs.tabText(0) == "Agent"
    dialog.agent.save()  # an empty name is refused in words
    assert "Enter your name" in dialog.agent.problem.text() and told == []
    dialog.agent.name.setText("  Maria   Lopez ")
    dialog.agent.team.setText("Returns")
    dialog.agent.save()
    assert told == [("Maria Lopez", "Returns")]
    assert window.agent_label.text() == "Agent: Maria Lopez · Returns"
    saved = json.loads((tmp_path / "settings.json").read_text(encoding="utf-8"))
    assert saved["agent_name"] == "Maria Lopez" and saved["team"] == "Returns"
    again = SettingsDialog(window)  # opens with what is set
    qtbot.addWidget(again)
    assert again.agent.name.text() == "Maria Lopez" and again.agent.team.text() == "Returns"
