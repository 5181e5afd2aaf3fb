"""``assist privacy scan | retention``: audit a journal for PII left in stored text; delete old sessions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _journal(args: argparse.Namespace) -> Path:
    from assist.storage.connection import default_journal_path

    return Path(args.db).expanduser() if args.db else default_journal_path()


def cmd_privacy_scan(args: argparse.Namespace) -> int:
    from assist.storage import StorageError
    from assist.storage.privacy import scan

    try:
        report = scan(_journal(args))
    except StorageError as exc:
        print(f"assist: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"{report.rows} stored texts scanned in {report.path}: {report.total} PII matches left "
              f"in {len(report.sessions_with_leaks)} sessions")
        for place, count in sorted(report.leaks.items()):
            print(f"  {place}: {count}")
        if report.unredacted_sessions:
            print(f"  ({report.unredacted_sessions} sessions were recorded with redaction off by the agent: "
                  f"{report.in_unredacted} matches there, not counted as leaks)")
    return 1 if report.total else 0


def cmd_privacy_retention(args: argparse.Namespace) -> int:
    from assist.storage import StorageError
    from assist.storage.privacy import apply_retention

    try:
        report = apply_retention(_journal(args), args.days)
    except (StorageError, ValueError) as exc:
        print(f"assist: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.__dict__, indent=2) if args.json else report.summary())
    return 0


def add_privacy_commands(sub: Any) -> None:
    privacy = sub.add_parser("privacy", help="PII audit of a journal; retention policy").add_subparsers(
        dest="what", required=True)
    scan = privacy.add_parser("scan", help="count PII patterns left in stored text (exit 1 when any)")
    retention = privacy.add_parser("retention", help="delete sessions older than N days (with their files), "
                                   "then VACUUM")
    retention.add_argument("--days", type=float, required=True)
    for p in (scan, retention):
        p.add_argument("--db", help="journal file (default: the per-user journal)")
        p.add_argument("--json", action="store_true")
    scan.set_defaults(func=cmd_privacy_scan)
    retention.set_defaults(func=cmd_privacy_retention)
