"""Where Assist keeps each user's files (platformdirs), and which of them a removal may delete."""

from __future__ import annotations

from pathlib import Path

APP = "Assist"


def user_folders() -> dict[str, Path]:
    """Where Assist keeps this user's files (platformdirs), by role; read at each call so tests can move HOME."""
    import platformdirs

    return {
        "data": Path(platformdirs.user_data_dir(APP, APP)),  # journal, recordings, kb.sqlite3, macros, models
        "settings": Path(platformdirs.user_config_dir(APP, APP)),
        "logs": Path(platformdirs.user_log_dir(APP, APP)),
        "state": Path(platformdirs.user_state_dir(APP, APP)),
        "cache": Path(platformdirs.user_cache_dir(APP, APP)),
    }


def folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def removal_targets(folders: dict[str, Path]) -> list[Path]:
    """The existing folders to delete, outermost only, each named after the app (never a bare home folder)."""
    found = sorted({p.resolve() for p in folders.values() if p.exists()}, key=lambda p: len(p.parts))
    targets: list[Path] = []
    for path in found:
        if APP not in path.parts:
            raise ValueError(f"refusing to delete {path}: it is not an {APP} folder")
        if not any(path.is_relative_to(t) for t in targets):
            targets.append(path)
    return targets
