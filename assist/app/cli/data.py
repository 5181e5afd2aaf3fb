"""``assist data where | remove``: the per-user folders Assist writes, and deleting them on request.

Uninstalling keeps them (a .deb cannot know whose home folders to touch, and an agent's journal is not
the package's to delete): ``assist data remove`` before ``apt remove assist`` deletes this user's journal,
recordings, knowledge base, macros, added models, settings and logs. The Windows uninstaller does the
same with ``/REMOVEDATA``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any

from assist.paths import APP, user_folders
from assist.storage.userdata import folder_size, processes_using, removal_targets


def cmd_data_where(args: argparse.Namespace) -> int:
    folders = user_folders()
    rows = {role: {"path": str(p), "exists": p.exists(), "bytes": folder_size(p) if p.exists() else 0}
            for role, p in folders.items()}
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for role, row in rows.items():
        state = f"{row['bytes'] / 1e6:.1f} MB" if row["exists"] else "not created"
        print(f"{role:9} {row['path']}  ({state})")
    return 0


def cmd_data_remove(args: argparse.Namespace) -> int:
    try:
        targets = removal_targets(user_folders())
    except ValueError as exc:
        print(f"assist: error: {exc}", file=sys.stderr)
        return 2
    if not targets:
        print("Nothing to remove: Assist has no files for this user.")
        return 0
    busy = processes_using(targets)
    if busy:
        pid, path = next(iter(busy.items()))
        print(f"assist: error: nothing removed: a running program (process {pid}, most likely Assist) has {path} "
              "open. Close Assist first, then run this again.", file=sys.stderr)
        return 2
    total = sum(folder_size(p) for p in targets)
    print("This deletes, for this user and for good: the journal of every session (with recordings and "
          "annotations), the knowledge base, macros, added models, settings and logs:")
    for path in targets:
        print(f"  {path}")
    if not args.yes:
        if not sys.stdin.isatty():
            print("assist: error: not removed; run `assist data remove --yes` to confirm without a terminal.",
                  file=sys.stderr)
            return 2
        if input("Type 'remove' to delete them: ").strip().lower() != "remove":
            print("Nothing removed.")
            return 1
    failed = []
    for path in targets:
        try:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        except OSError as exc:
            failed.append(f"{path}: {exc.strerror or exc}")
    for path in {p.parent for p in targets}:  # Windows: %LOCALAPPDATA%\Assist\Assist -> the empty Assist too
        if path.name == APP and path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if failed:
        print("assist: error: some files could not be deleted (is Assist still running?):\n  " + "\n  ".join(failed),
              file=sys.stderr)
        return 1
    print(f"Removed {total / 1e6:.1f} MB of Assist's data for this user.")
    return 0


def add_data_commands(sub: Any) -> None:
    data = sub.add_parser("data", help="this user's Assist folders; remove them (uninstalling keeps them)")
    what = data.add_subparsers(dest="what", required=True)
    where = what.add_parser("where", help="list the folders with their sizes")
    where.add_argument("--json", action="store_true")
    where.set_defaults(func=cmd_data_where)
    remove = what.add_parser("remove", help="delete this user's journal, knowledge base, settings, models and logs")
    remove.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    remove.set_defaults(func=cmd_data_remove)
