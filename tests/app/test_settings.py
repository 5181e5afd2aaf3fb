"""The per-user settings file an IT admin can preset (command-line options win)."""

from __future__ import annotations

import argparse
import json

from assist.app.settings import apply_settings, load_settings


def test_settings_fill_what_the_command_line_left_unset(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"asr": "whisper-base.en", "customer_device": "pulse:out.monitor",
                                "chat_feed": True, "agent_device": 3, "colour": "blue"}), encoding="utf-8")
    settings, problem = load_settings(path)
    assert settings == {"asr": "whisper-base.en", "customer_device": "pulse:out.monitor", "chat_feed": True}
    assert "agent_device" in problem and "colour" in problem
    args = argparse.Namespace(asr=None, customer_device="pulse:headset.monitor", chat_feed=False, follow=None)
    apply_settings(args, settings)
    assert args.asr == "whisper-base.en" and args.chat_feed is True
    assert args.customer_device == "pulse:headset.monitor"  # the command line wins


def test_missing_and_corrupt_settings_files(tmp_path):
    assert load_settings(tmp_path / "none.json") == ({}, "")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\x00{not json")
    settings, problem = load_settings(bad)
    assert settings == {} and "could not be read" in problem
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    assert "JSON object" in load_settings(tmp_path / "list.json")[1]
