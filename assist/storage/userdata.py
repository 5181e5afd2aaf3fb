"""Which of a user's folders (``assist.paths.user_folders``) a removal may delete, and who still has them open."""

from __future__ import annotations

import os
from pathlib import Path

from assist.paths import APP


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


def processes_using(folders: list[Path]) -> dict[int, str]:
    """Other processes with a file open under ``folders`` (pid -> one such file), read from /proc on Linux.

    An app that still has its journal open would go on writing into a deleted file and lose it at exit, so a
    removal waits for it to close. Elsewhere (no /proc) the empty answer is right too: Windows refuses to
    delete an open file, and the removal says so.
    """
    roots = [str(f.resolve()) + os.sep for f in folders]
    found: dict[int, str] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if any(target.startswith(root) for root in roots):
                    found[int(entry.name)] = target
                    break
        except OSError:  # gone, or another user's process
            continue
    return found
