"""``assist``: the parser of every command (one module per command group registers its own), the log file, and
``main`` — the composition root of the command line and of the window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("assist")


def cmd_gui(args: argparse.Namespace) -> int:
    from assist.app.gui_main import run_gui

    return run_gui(args)


def window_size(text: str) -> tuple[int, int]:
    """'683x900' -> (683, 900), for --size; anything else is an argparse error in words."""
    import re

    match = re.fullmatch(r"\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*", text)
    if not match or not (300 <= int(match[1]) <= 16000 and 300 <= int(match[2]) <= 16000):
        raise argparse.ArgumentTypeError(f"{text!r} is not a window size: give WIDTHxHEIGHT in pixels, each "
                                         "300 to 16000, e.g. 683x900")
    return int(match[1]), int(match[2])


def build_parser() -> argparse.ArgumentParser:
    from assist.app.cli.analyze import add_analyze_command
    from assist.app.cli.annotations import add_annotation_commands
    from assist.app.cli.calls import add_commands as add_call_commands
    from assist.app.cli.calls import call_options, demo_call_options
    from assist.app.cli.common import backend_option, device_option
    from assist.app.cli.data import add_data_commands
    from assist.app.cli.evaluate import add_eval_commands
    from assist.app.cli.export import add_export_commands
    from assist.app.cli.kb import add_kb_commands
    from assist.app.cli.macros import add_macro_commands
    from assist.app.cli.models import add_model_commands
    from assist.app.cli.privacy import add_privacy_commands
    from assist.app.cli.replies import add_reply_commands
    from assist.app.cli.review import add_review_commands
    from assist.app.cli.train import add_train_commands

    parser = argparse.ArgumentParser(prog="assist", description="Offline multimodal agent assist.")
    parser.add_argument("-v", "--verbose", action="store_true")
    from assist._version import __version__

    parser.add_argument("--version", action="version", version=f"assist {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation (libraries, every model, OCR, speech, the window); JSON report")
    parser.add_argument("--report", help="where --self-test writes its JSON report (default ./assist-self-test.json)")
    sub = parser.add_subparsers(dest="command")

    def gui_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", help="journal database path (default: per-user data folder)")
        p.add_argument("--no-redaction", action="store_true", help="store raw text (recorded per session)")
        p.add_argument("--offscreen", action="store_true", help="no window (QT_QPA_PLATFORM=offscreen)")
        p.add_argument("--screenshot", help="save a PNG of the window at the end (demo)")
        p.add_argument("--size", type=window_size, metavar="WxH",
                       help="the window's size in pixels, e.g. 683x900 (half a 1366-wide screen: the one-column "
                            "layout)")
        p.add_argument("--agent-name", metavar="NAME", help="who uses Assist: recorded on every session (settings.json: "
                       "agent_name; asked at the first start when unset)")
        p.add_argument("--team", help="the agent's team, shown with the name (settings.json: team)")
        p.add_argument("--model-dir", type=Path)
        device_option(p)
        backend_option(p)
        p.add_argument("--fusion", action="store_true",
                       help="read each chat message with its previous turns (models/fusion; see its model card)")
        p.add_argument("--kb", type=Path, help="knowledge-base file (default: kb.sqlite3 in Assist's data folder)")
        p.add_argument("--llm", help="draft replies with a local language model: a transformers folder, a name "
                       "under models/llm, or 'none' (default: the first folder in models/llm, if any)")
        p.add_argument("--retention-days", type=float,
                       help="at start-up, delete sessions older than this many days (with their files)")
        p.add_argument("--llm-download", action="store_true",
                       help="let --llm name a hub model and download it (needs internet)")
        call_options(p)

    run = sub.add_parser("run", help="open the app (default)")
    gui_options(run)
    demo = sub.add_parser("demo", help="play the bundled sample conversation through the real pipeline")
    gui_options(demo)
    demo.add_argument("--delay-ms", type=int, default=900, help="pause between messages")
    demo.add_argument("--script", type=Path, help="a conversation JSON (default: resources/demo)")
    demo_call_options(demo)

    add_analyze_command(sub)

    add_train_commands(sub)

    ev = sub.add_parser("eval", help="evaluate models").add_subparsers(dest="what", required=True)
    add_eval_commands(ev)

    add_call_commands(sub, ev)
    add_reply_commands(ev)
    add_annotation_commands(sub, ev)

    export = sub.add_parser("export", help="export models to ONNX, sessions to CSV/JSON/HTML").add_subparsers(
        dest="what", required=True)
    add_export_commands(export)

    add_kb_commands(sub)
    add_macro_commands(sub)
    add_model_commands(sub)
    add_privacy_commands(sub)
    add_data_commands(sub)
    add_review_commands(sub)
    return parser


LOG_BYTES, LOG_FILES = 2_000_000, 5


def add_log_file() -> Path | None:
    """Also log to ``assist.log`` in the per-user log folder (platformdirs), rotated at 2 MB, 5 files kept, so a
    support engineer can read what happened; None (said on stderr) when the folder cannot be written."""
    from logging.handlers import RotatingFileHandler

    from assist.paths import private_folder, user_log_dir

    folder = user_log_dir()
    try:
        private_folder(folder)  # owner-only: the log names sessions and files
        log_file = folder / "assist.log"
        if not log_file.exists():
            os.close(os.open(log_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        handler = RotatingFileHandler(log_file, maxBytes=LOG_BYTES, backupCount=LOG_FILES, encoding="utf-8")
    except OSError as exc:
        logging.getLogger("assist").warning("no log file: %s", exc)
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return folder / "assist.log"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command in (None, "run", "demo", "review"):
        add_log_file()
    if args.self_test:
        from assist.app.self_test import run_self_test

        return run_self_test(args.report)
    if args.command is None:
        args = parser.parse_args(["run", *(argv or sys.argv[1:])])
    if args.command in ("run", "demo"):
        return cmd_gui(args)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
