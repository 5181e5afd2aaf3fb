"""Where Assist's files are: what ships with it (models, resources) and each user's own folders.

One place instead of ``Path(__file__).parents[N]`` in every module. ``ROOT`` is the folder holding ``assist/``,
``models/`` and ``resources/``: the checkout, or in a PyInstaller bundle the folder the spec collects them into
(``_internal``, where ``assist`` itself is unpacked), so the same code finds them frozen or not. The user's folders
come from platformdirs, read at each call so tests (and ``assist data where``) see the environment of the moment.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "Assist"
ROOT = Path(__file__).resolve().parents[1]


def resource(*parts: str) -> Path:
    """A file or folder under ``resources/`` (the bundled KB, macros, demo scripts, evaluation sets...)."""
    return ROOT.joinpath("resources", *parts)


def model_dir(*parts: str) -> Path:
    """A shipped model's folder under ``models/`` (text, fusion, voice, asr, llm)."""
    return ROOT.joinpath("models", *parts)


def shared_data_dir() -> Path:
    """The shared data sets for training and evaluation: ``$ASSIST_DATA``, else ``../shared/data`` beside the
    checkout (or above the working folder)."""
    env = os.environ.get("ASSIST_DATA")
    if env:
        return Path(env)
    for parent in ROOT.parents:
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return Path.cwd().parent / "shared" / "data"


def user_folders() -> dict[str, Path]:
    """Where Assist keeps this user's files (platformdirs), by role."""
    import platformdirs

    return {
        "data": Path(platformdirs.user_data_dir(APP, APP)),  # journal, recordings, kb.sqlite3, macros, models
        "settings": Path(platformdirs.user_config_dir(APP, APP)),
        "logs": Path(platformdirs.user_log_dir(APP, APP)),
        "state": Path(platformdirs.user_state_dir(APP, APP)),
        "cache": Path(platformdirs.user_cache_dir(APP, APP)),
    }


def private_folder(path: Path, tighten: bool = True) -> Path:
    """``path`` created readable by its owner only (0o700; missing parents as usual). ``tighten`` also takes group
    and other access off an existing one: for Assist's own folders (data, logs, sessions/), not for a folder a user
    chose to put a journal in. POSIX modes; on Windows the per-user folders are private already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)
    if tighten and os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def is_user_folder(path: Path) -> bool:
    """``path`` is one of Assist's per-user folders or inside one."""
    target = Path(path).resolve()
    return any(target == root.resolve() or root.resolve() in target.parents for root in user_folders().values())


def user_data_dir() -> Path:
    """The journal, recordings and screenshots, the knowledge base, the reply bank, added models."""
    return user_folders()["data"]


def user_config_dir() -> Path:
    """settings.json, the chat-feed token."""
    return user_folders()["settings"]


def user_log_dir() -> Path:
    return user_folders()["logs"]


def user_cache_dir() -> Path:
    return user_folders()["cache"]


__all__ = ["APP", "ROOT", "model_dir", "resource", "shared_data_dir", "user_cache_dir", "user_config_dir",
           "user_data_dir", "user_folders", "user_log_dir"]
