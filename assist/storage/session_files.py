"""A session's files (screenshots, call recordings) live in ``sessions/<session id>/`` beside its journal.

Rows name a file by the absolute path it was written to, which holds only on the PC that wrote it (and redaction
may have rewritten part of it: an e-mail address in a user folder's name). So a journal finds its files by name in
the session's folder beside it, wherever the journal is: a bundle copied off an agent's PC, or an archive its
sessions were merged into (merging copies the folders along). Retention deletes the same folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path, PureWindowsPath

SESSIONS_DIR = "sessions"
_PLAIN_ID = re.compile(r"[\w-][\w.-]*")  # one folder name: no separator, never "." or ".."


def session_folder(journal: Path, session_id: str) -> Path:
    """Where a session's screenshots and recordings live: ``sessions/<id>`` beside the journal."""
    return Path(journal).parent / SESSIONS_DIR / session_id


def is_plain_id(session_id: str) -> bool:
    """Whether ``session_id`` is one plain folder name; a journal from elsewhere could hold ``..`` or ``a/../../b``,
    and its files must never be looked for, copied or deleted outside the sessions folder."""
    return _PLAIN_ID.fullmatch(session_id) is not None


def stored_file(journal: Path, session_id: str, recorded: str | None) -> Path | None:
    """The file a row names (a screenshot's ``meta["path"]``): the one of that name in the session's folder beside
    ``journal``, else the path as recorded (a journal read on the PC that wrote it elsewhere); None when neither is
    there. The folder comes first, so an archive shows its own copy, the one its retention deletes."""
    if not recorded:
        return None
    name = PureWindowsPath(recorded).name  # the file name whichever OS wrote the path (\ or /)
    if name and is_plain_id(session_id):
        beside = session_folder(journal, session_id) / name
        if beside.is_file():
            return beside
    written = Path(recorded)
    return written if written.is_absolute() and written.is_file() else None


def copy_session_files(source: Path, target: Path, session_id: str) -> tuple[int, list[str]]:
    """Copy a session's folder from beside journal ``source`` to beside journal ``target``: never moving a file,
    never replacing one already there. Returns how many files were copied and, in words, what could not be. A
    session without a folder has nothing to copy."""
    if not is_plain_id(session_id):
        return 0, [f"The files of session {session_id!r} were not looked for: its id is not a plain folder name."]
    src, dst = session_folder(source, session_id), session_folder(target, session_id)
    try:
        if not src.is_dir() or src.resolve() == dst.resolve():  # no files, or the archive sits beside the bundle
            return 0, []
    except OSError as exc:  # the folder cannot even be looked at (permissions)
        return 0, [f"Session {session_id[:8]}: its files in {src} were not copied ({exc.strerror or exc})."]
    copied, problems = 0, []

    def unreadable(exc: OSError) -> None:
        problems.append(f"Session {session_id[:8]}: {exc.filename} was not copied ({exc.strerror or exc}).")

    for folder, _, names in os.walk(src, onerror=unreadable):  # symbolic links to folders are not followed
        for name in sorted(names):
            original = Path(folder) / name
            if original.is_symlink() or (name.startswith(".") and name.endswith(".part")):  # not a kept file
                continue
            copy = dst / original.relative_to(src)
            problem = _copy_file(original, copy)
            if problem:
                problems.append(f"Session {session_id[:8]}: {name} was not copied to {copy.parent} ({problem}); "
                                f"it is still at {original}.")
            else:
                copied += 1
    return copied, problems


def _copy_file(original: Path, copy: Path) -> str:
    """Copy one file (to a temporary name, then renamed: never a half file under the real name); '' or the reason."""
    partial = copy.with_name(f".{copy.name}.part")
    try:
        if copy.exists():
            if copy.stat().st_size == original.stat().st_size:
                return ""  # copied by an earlier merge
            return "a different file of that name is already there"
        copy.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy2(original, partial)  # the owner-only permissions come along
        os.replace(partial, copy)
    except OSError as exc:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass
        return str(exc.strerror or exc)
    return ""


__all__ = ["SESSIONS_DIR", "copy_session_files", "is_plain_id", "session_folder", "stored_file"]
