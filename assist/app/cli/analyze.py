"""``assist analyze``: one customer turn (text, and optionally its voice, a screenshot and the turns before it)
through the same session controller the window runs, printed as the Insight the window shows (JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assist.app.cli.common import backend_option, device_option, fail


def cmd_analyze(args: argparse.Namespace) -> int:
    """The Insight for one customer turn, from the same engines and controller the window runs."""
    from assist.capture.errors import CaptureError
    from assist.inference.errors import BadInput, InferenceError, ModelUnavailable
    from assist.pipeline.assembly import analyze_turn, app_engine_config, context_turn, session_controller
    from assist.pipeline.engines import load_engines
    from assist.replies.kb.entries import KnowledgeBaseError
    from assist.storage.connection import default_journal_path

    for path in (args.wav, args.image):
        if path and not Path(path).is_file():
            return fail(f"File not found: {path}")
    text: str | bytes | None = args.text
    if text is None and not args.wav:
        text = sys.stdin.buffer.read()
    try:
        engines = load_engines(app_engine_config(model_dir=args.model_dir, device=args.device, backend=args.backend,
                                                 fusion=args.fusion))
    except (ModelUnavailable, KnowledgeBaseError) as exc:
        return fail(str(exc))
    # the window ranks replies with what agents used before: the same history, read from this PC's journal
    controller = session_controller(engines, journal_path=default_journal_path())
    context = [context_turn(line) for line in args.context or []]
    try:
        insight = analyze_turn(controller, text, voice=args.wav, image=args.image, context=context)
    except (BadInput, InferenceError, ModelUnavailable, CaptureError) as exc:  # a bad image, audio: in words
        return fail(str(exc))
    finally:
        controller.end_session()
    print(json.dumps(insight.to_dict(), indent=2, ensure_ascii=False))
    return 0


def add_analyze_command(sub: argparse._SubParsersAction) -> None:
    analyze = sub.add_parser("analyze", help="print the Insight for one customer message as JSON")
    analyze.add_argument("--text", help="the message (default: read stdin)")
    analyze.add_argument("--wav", help="the customer's voice for this turn (WAV/FLAC/OGG), read with the words by the "
                         "fusion model as in a call; without --text its words are what the speech recogniser hears")
    analyze.add_argument("--image", help="a screenshot the agent took before this turn (PNG/JPEG...): OCR, entities")
    analyze.add_argument("--context", action="append", metavar="TURN",
                         help="a previous turn, oldest first (repeatable): 'Agent: ...' or 'Customer: ...' "
                         "(the customer's without a prefix)")
    analyze.add_argument("--fusion", action="store_true",
                         help="read the message with its previous turns through the fusion model (as the app's --fusion)")
    analyze.add_argument("--model-dir", type=Path)
    device_option(analyze)
    backend_option(analyze)
    analyze.set_defaults(func=cmd_analyze)


__all__ = ["add_analyze_command"]
