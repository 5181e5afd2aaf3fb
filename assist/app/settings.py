"""Per-user settings file (``settings.json`` in Assist's config folder), for what an IT admin presets.

Keys (all optional): ``asr`` (a CTranslate2 Whisper folder, a name under models/asr, or "pocketsphinx"),
``agent_device`` / ``customer_device`` (keys from ``assist devices``), ``chat_feed`` (bool),
``follow`` (a JSON-lines file), ``db`` (journal path), ``kb`` (knowledge-base file), ``llm`` (a drafting model:
folder, name under models/llm, hub id, or "none"), ``llm_download`` (bool: a hub id may be downloaded),
``retention_days`` (number: sessions older than this are deleted, with their files, at start-up), ``agent_name``
and ``team`` (who uses Assist on this account: the name is recorded on every session, both show in the status bar;
asked at the first start when unset), ``chat_feed_port`` (a fixed port for the chat feed; default a free one).
Command-line options win over the file.
A missing file is normal; an unreadable one is reported and ignored.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from assist.paths import user_config_dir

log = logging.getLogger("assist")

KEYS = {"asr": str, "agent_device": str, "customer_device": str, "chat_feed": bool, "follow": str, "db": str,
        "kb": str, "llm": str, "llm_download": bool, "retention_days": (int, float), "agent_name": str, "team": str,
        "chat_feed_port": int}
MAX_NAME = 80  # an agent's or team's name, as shown and recorded


def settings_path() -> Path:
    return user_config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> tuple[dict[str, Any], str]:
    """(settings, problem): unknown keys and wrong types are dropped and named in ``problem``."""
    path = path or settings_path()
    if not path.is_file():
        return {}, ""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"The settings file {path} could not be read ({exc}); defaults are used."
    if not isinstance(raw, dict):
        return {}, f"The settings file {path} must hold a JSON object; defaults are used."
    good = {k: v for k, v in raw.items() if k in KEYS and isinstance(v, KEYS[k])
            and (KEYS[k] is bool or not isinstance(v, bool))}  # true is not a number of days
    bad = sorted(set(raw) - set(good))
    return good, (f"Ignored in {path}: {', '.join(bad)} (unknown key or wrong type)." if bad else "")


def apply_settings(args: argparse.Namespace, settings: dict[str, Any]) -> None:
    """Fill options the command line left unset from the settings file."""
    for key, value in settings.items():
        if getattr(args, key, None) in (None, False):
            setattr(args, key, value)


def save_settings(updates: dict[str, Any], path: Path | None = None) -> str:
    """Write ``updates`` into the settings file, keeping every other key as it was (even ones this version does not
    know); atomically. Returns a problem in words ("" when saved)."""
    path = path or settings_path()
    try:
        current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        return f"The settings file {path} could not be read ({exc}); nothing was saved."
    if not isinstance(current, dict):
        return f"The settings file {path} does not hold a JSON object; nothing was saved."
    current.update(updates)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        return f"The settings could not be saved to {path} ({exc})."
    return ""


def clean_name(text: str) -> str:
    """An agent's or team's name as recorded: one line, trimmed, at most MAX_NAME characters."""
    return " ".join(str(text).split())[:MAX_NAME]
