"""Every settings.json example in README.md works as written: an IT admin copies it, and Assist must open without
an error (issue 17: the README's example named a speech model that does not ship, "whisper-base.en")."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from assist.app.cli.main import build_parser
from assist.app.gui_main import apply_retention_at_start
from assist.app.settings import apply_settings, load_settings
from assist.inference.asr import resolve_source
from assist.inference.errors import ModelUnavailable
from assist.inference.llm import resolve_folder
from support import REPO

_FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def settings_examples(readme: str) -> list[str]:
    """The JSON objects (inline code, or a fenced block right after) of the paragraphs that mention settings.json."""
    found: list[str] = []
    about_settings = False
    for block in re.split(r"\n\s*\n", readme):
        fenced = _FENCED.findall(block)
        if fenced and about_settings:
            found += [code for code in fenced if code.lstrip().startswith("{")]
        prose = _FENCED.sub("", block)
        if prose.strip():
            about_settings = "settings.json" in prose
        if about_settings:
            found += [code for code in _INLINE.findall(prose) if code.lstrip().startswith("{")]
    return found


def settings_problems(text: str, folder: Path) -> list[str]:
    """What the app says when it starts with ``text`` as its settings file: the settings loader's problem, keys that
    are no option of ``assist run``, and the errors the engines and the retention policy report for the values."""
    path = folder / "settings.json"
    path.write_text(text, encoding="utf-8")
    settings, problem = load_settings(path)
    problems = [problem] if problem else []
    args = build_parser().parse_args(["run", "--settings", str(path)])
    problems += [f"{key} is no option of 'assist run'" for key in settings if not hasattr(args, key)]
    apply_settings(args, settings)
    try:
        if args.asr and args.asr != "pocketsphinx":  # what the engines do (load_asr_engine -> load_asr)
            resolve_source(args.asr)
        if args.llm and args.llm.strip().lower() != "none":
            resolve_folder(args.llm, allow_download=bool(args.llm_download))
    except ModelUnavailable as exc:
        problems.append(str(exc))
    retention = apply_retention_at_start(str(folder / "no-journal.sqlite3"), args.retention_days)
    return problems + ([retention] if retention else [])


def test_every_settings_example_in_the_readme_works_as_written(tmp_path: Path) -> None:
    examples = settings_examples((REPO / "README.md").read_text(encoding="utf-8"))
    assert examples, "README.md shows no settings.json example"
    for text in examples:
        example: Any = json.loads(text)
        assert isinstance(example, dict) and example, text
        assert settings_problems(text, tmp_path) == [], text  # no key dropped, every value usable


def test_the_check_catches_the_example_the_issue_reported(tmp_path: Path) -> None:
    readme = ('Preset them in `settings.json`, e.g.\n`{"customer_device": "pulse:x.monitor", "asr": "whisper-base.en",\n'
              '"chat_feed": true}`; keys: `asr`.\n\nElsewhere: `{"token": "..."}`.\n')
    examples = settings_examples(readme)
    assert [json.loads(text) for text in examples] == [
        {"customer_device": "pulse:x.monitor", "asr": "whisper-base.en", "chat_feed": True}]
    problems = settings_problems(examples[0], tmp_path)
    assert len(problems) == 1 and "whisper-base.en does not exist" in problems[0]
    assert settings_problems('{"chat_feed": "yes", "retention_days": -5, "colour": "blue"}', tmp_path) == [
        f"Ignored in {tmp_path / 'settings.json'}: chat_feed, colour (unknown key or wrong type).",
        "The retention policy could not be applied: the retention period must be more than 0 days"]
    fenced = "The `settings.json` of a call centre:\n\n```json\n{\"llm\": \"none\"}\n```\n"
    assert settings_examples(fenced) == ['{"llm": "none"}\n'] and settings_problems('{"llm": "none"}', tmp_path) == []
