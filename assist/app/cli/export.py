"""``assist export sessions | report | team | text``: sessions to CSV/JSON, one session's HTML report, a team summary;
the text model to its int8 ONNX graph (needs torch)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from assist.app.cli.common import fail


def _day(text: str) -> float:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").timestamp()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-24") from exc


def _reader(args: argparse.Namespace) -> Any:
    from assist.storage.connection import default_journal_path
    from assist.storage.reader import JournalReader

    return JournalReader(Path(args.db).expanduser() if args.db else default_journal_path())


def _filter(args: argparse.Namespace) -> Any:
    from assist.storage.review import SessionFilter

    since = args.since if args.since is not None else (time.time() - args.days * 86400 if args.days else None)
    return SessionFilter(agent=args.agent or "", since=since, until=args.until, escalated_only=args.escalated)


def cmd_export(args: argparse.Namespace) -> int:
    from assist.storage import StorageError
    from assist.storage.export import export_sessions, write_session_report, write_team_summary

    try:
        with _reader(args) as reader:
            if args.what == "report":
                written = write_session_report(reader, args.session, args.out)
            elif args.what == "team":
                written = write_team_summary(reader, args.since, args.until, args.out)
            else:
                ids = args.session or [s.id for s in reader.session_summaries(_filter(args), limit=10**9)]
                written = export_sessions(reader, ids, args.out, args.format)
    except StorageError as exc:
        return fail(str(exc))
    print(f"wrote {written}")
    return 0


def cmd_export_text(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.inference.text_model import default_model_dir
    from assist.inference.text_onnx import export_text_onnx, record_export

    model_dir = Path(args.model_dir or default_model_dir())
    try:
        facts = export_text_onnx(model_dir, quantize=not args.fp32)
    except ModelUnavailable as exc:
        return fail(str(exc))
    if not args.fp32:
        record_export(model_dir, facts)
    print(json.dumps(facts, indent=2))
    return 0


def add_export_commands(export: Any) -> None:
    """``sessions``, ``report``, ``team`` and ``text`` under ``assist export``."""
    sessions = export.add_parser("sessions", help="sessions (all, filtered, or --session ...) to CSV or JSON")
    sessions.add_argument("--format", choices=("csv", "json"), default="csv")
    sessions.add_argument("--session", action="append",
                          help="a session id or a unique start of it (repeat for several)")
    sessions.add_argument("--agent", help="only this agent's sessions (substring)")
    sessions.add_argument("--days", type=float, help="only sessions of the last N days")
    sessions.add_argument("--escalated", action="store_true", help="only sessions with an escalation")
    report = export.add_parser("report", help="one session as a self-contained HTML report")
    report.add_argument("--session", required=True,
                        help="the session: its id or a unique start of it (such as the 8 characters the app shows)")
    team = export.add_parser("team", help="team summary over a date range (HTML)")
    for p in (sessions, team):
        p.add_argument("--since", type=_day, help="from this day (YYYY-MM-DD)")
        p.add_argument("--until", type=_day, help="before this day (YYYY-MM-DD)")
    for p in (sessions, report, team):
        p.add_argument("--db", help="journal file (default: this PC's)")
        p.add_argument("--out", required=True, type=Path)
        p.set_defaults(func=cmd_export)
    export_text = export.add_parser("text", help="models/text -> text.int8.onnx (needs torch)")
    export_text.add_argument("--model-dir", type=Path)
    export_text.add_argument("--fp32", action="store_true", help="write text.fp32.onnx only (not used by the app)")
    export_text.set_defaults(func=cmd_export_text)
