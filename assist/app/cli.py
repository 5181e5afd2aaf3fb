"""Command line: ``assist [run|demo|analyze|train|eval|kb]`` (the composition root)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assist.domain import ProgressState

log = logging.getLogger("assist")


def _progress_bar(desc: str) -> tuple[ProgressState, Any]:
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=desc, unit="‰", file=sys.stderr, leave=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")

    def update(fraction: float, message: str) -> None:
        bar.update(int(fraction * 1000) - bar.n)
        bar.set_postfix_str(message, refresh=False)

    return ProgressState(update), bar


def _fail(message: str, code: int = 2) -> int:
    print(f"assist: error: {message}", file=sys.stderr)
    return code


def _option_value(kind: type, value: str) -> object:
    """A --set value as the option's type; booleans accept 1/0, true/false, yes/no."""
    if kind is bool:
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(value)
        return value.lower() in ("1", "true", "yes")
    return kind(value)


def _apply_sets(opts: Any, items: Sequence[str] | None, what: str, reserved: Sequence[str] = ()) -> str:
    """Apply ``--set KEY=VALUE`` items to an options dataclass; returns a problem to report, or ""."""
    fields = type(opts).__dataclass_fields__
    for item in items or []:
        key, _, value = item.partition("=")
        if key not in fields or key in reserved:
            return f"unknown {what} {key!r}; known: {', '.join(k for k in fields if k not in reserved)}"
        kind = type(getattr(opts, key))
        try:
            setattr(opts, key, _option_value(kind, value))
        except ValueError:
            return f"{what} {key} needs a {kind.__name__}, got {value!r}"
    return ""


def cmd_analyze(args: argparse.Namespace) -> int:
    from assist.inference.errors import BadInput, ModelUnavailable
    from assist.pipeline.controller import SessionController
    from assist.pipeline.engines import EngineConfig, load_engines
    from assist.replies.kb import KnowledgeBaseError

    if args.wav or args.image or args.context:
        return cmd_analyze_multimodal(args)
    text: str | bytes = args.text
    if args.text is None:
        text = sys.stdin.buffer.read()
    try:
        engines = load_engines(EngineConfig(model_dir=args.model_dir, device=args.device, backend=args.backend))
    except (ModelUnavailable, KnowledgeBaseError) as exc:
        return _fail(str(exc))
    controller = SessionController(engines)
    controller.start_session()
    try:
        turn = controller.submit("customer", text)
    except BadInput as exc:
        return _fail(str(exc))
    assert turn.insight is not None
    print(json.dumps(turn.insight.to_dict(), indent=2, ensure_ascii=False))
    return 0


def cmd_analyze_multimodal(args: argparse.Namespace) -> int:
    """Text (+ previous turns) + voice + screenshot through the encoders and the fusion model."""
    from assist.inference.errors import BadInput, InferenceError, ModelUnavailable
    from assist.pipeline.multimodal import MultimodalAnalyzer

    for path in (args.wav, args.image):
        if path and not Path(path).is_file():
            return _fail(f"File not found: {path}")
    try:
        analyzer = MultimodalAnalyzer()
        image = args.image  # the screen reader decodes files itself (clear BadInput when it cannot)
        context = [(turn, False) for turn in reversed(args.context or [])]  # most recent first
        result = analyzer.analyze_turn(args.text, args.wav, image, context)
    except (ModelUnavailable, BadInput, InferenceError) as exc:
        return _fail(str(exc))
    print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    return 0


def cmd_eval_text(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.inference.text_onnx import load_text_model
    from assist.inference.training.data import default_data_dir
    from assist.inference.training.evaluate import evaluate_csv, evaluate_text

    try:
        model = load_text_model(args.model_dir, device=args.device, backend=args.backend, threads=args.threads)
    except ModelUnavailable as exc:
        return _fail(str(exc))
    state, bar = _progress_bar("eval text")
    try:
        if args.csv:
            result = evaluate_csv(model, Path(args.csv), args.text_col, args.label_col, state)
        else:
            result = evaluate_text(model, Path(args.data or default_data_dir()), state)
    except (FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    finally:
        bar.close()
    text = json.dumps(result, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def cmd_eval_voice(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.inference.training.evaluate_media import evaluate_voice, voice_items

    if args.loso:
        from assist.inference.training.data import default_data_dir
        from assist.inference.training.train_voice import evaluate_voice_loso

        state, bar = _progress_bar("eval voice (LOSO)")
        try:
            result = evaluate_voice_loso(Path(args.data or default_data_dir()), state=state)
        except FileNotFoundError as exc:
            return _fail(str(exc))
        finally:
            bar.close()
    else:
        if not args.wav_dir and not args.csv:
            return _fail("give --wav-dir DIR (EmoDB file names), --csv FILE (path,label) or --loso")
        state, bar = _progress_bar("eval voice")
        try:
            items = voice_items(Path(args.wav_dir) if args.wav_dir else None, Path(args.csv) if args.csv else None)
            result = evaluate_voice(items, state)
        except (ValueError, OSError, ModelUnavailable) as exc:
            return _fail(str(exc))
        finally:
            bar.close()
    print(json.dumps(result, indent=2))
    return 0


def cmd_eval_screen(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.inference.training.evaluate_media import evaluate_screen

    state, bar = _progress_bar("eval screen")
    try:
        result = evaluate_screen(Path(args.dir), Path(args.truth) if args.truth else None, state)
    except (ValueError, OSError, ModelUnavailable) as exc:
        return _fail(str(exc))
    finally:
        bar.close()
    print(json.dumps(result, indent=2))
    return 0


def cmd_export_text(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.inference.text_model import default_model_dir
    from assist.inference.text_onnx import export_text_onnx, record_export

    model_dir = Path(args.model_dir or default_model_dir())
    try:
        facts = export_text_onnx(model_dir, quantize=not args.fp32)
    except ModelUnavailable as exc:
        return _fail(str(exc))
    if not args.fp32:
        record_export(model_dir, facts)
    print(json.dumps(facts, indent=2))
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from assist.app.gui_main import run_gui

    return run_gui(args)


def build_parser() -> argparse.ArgumentParser:
    from assist.app.cli_annotations import add_annotation_commands
    from assist.app.cli_calls import add_commands as add_call_commands
    from assist.app.cli_calls import call_options, demo_call_options
    from assist.app.cli_data import add_data_commands
    from assist.app.cli_export import add_export_commands
    from assist.app.cli_kb import add_kb_commands
    from assist.app.cli_macros import add_macro_commands
    from assist.app.cli_models import add_model_commands
    from assist.app.cli_privacy import add_privacy_commands
    from assist.app.cli_replies import add_reply_commands
    from assist.app.cli_review import add_review_commands
    from assist.app.cli_train import add_train_commands

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
        p.add_argument("--model-dir", type=Path)
        p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
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

    def backend_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"],
                       help="text model runtime: onnx (int8, shipped), torch, or auto (onnx when usable)")

    run = sub.add_parser("run", help="open the app (default)")
    gui_options(run)
    demo = sub.add_parser("demo", help="play the bundled sample conversation through the real pipeline")
    gui_options(demo)
    demo.add_argument("--delay-ms", type=int, default=900, help="pause between messages")
    demo.add_argument("--script", type=Path, help="a conversation JSON (default: resources/demo)")
    demo_call_options(demo)

    analyze = sub.add_parser("analyze", help="print the Insight for one customer message as JSON")
    analyze.add_argument("--text", help="the message (default: read stdin)")
    analyze.add_argument("--wav", help="the customer's voice for this turn (WAV/FLAC/OGG): fused analysis")
    analyze.add_argument("--image", help="a screenshot the agent took (PNG/JPEG...): fused analysis")
    analyze.add_argument("--context", action="append", metavar="TURN",
                         help="a previous turn of the conversation, oldest first (repeatable): fused analysis")
    analyze.add_argument("--model-dir", type=Path)
    analyze.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    backend_option(analyze)
    analyze.set_defaults(func=cmd_analyze)

    add_train_commands(sub)

    ev = sub.add_parser("eval", help="evaluate models").add_subparsers(dest="what", required=True)
    eval_text = ev.add_parser("text", help="MELD dev, GoEmotions test, Bitext test, or --csv")
    eval_text.add_argument("--data", help="shared data folder (default ../shared/data)")
    eval_text.add_argument("--csv", help="evaluate on your own CSV instead")
    eval_text.add_argument("--text-col", default="text")
    eval_text.add_argument("--label-col", default="label")
    eval_text.add_argument("--model-dir", type=Path)
    eval_text.add_argument("--output", help="also write the JSON here")
    eval_text.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    eval_text.add_argument("--threads", type=int, default=2, help="CPU threads for evaluation")
    backend_option(eval_text)
    eval_text.set_defaults(func=cmd_eval_text)

    eval_voice = ev.add_parser("voice", help="voice model on EmoDB-named files, a path,label CSV, or --loso")
    eval_voice.add_argument("--wav-dir", help="folder of EmoDB-named audio (labels from the names)")
    eval_voice.add_argument("--csv", help="CSV with columns path,label (paths relative to the CSV)")
    eval_voice.add_argument("--loso", action="store_true", help="leave-one-speaker-out on ../shared/data/emodb")
    eval_voice.add_argument("--data", help="shared data folder for --loso")
    eval_voice.set_defaults(func=cmd_eval_voice)
    eval_screen = ev.add_parser("screen", help="OCR + entities on a folder of screenshots")
    eval_screen.add_argument("--dir", required=True, help="folder of images")
    eval_screen.add_argument("--truth", help="JSON: file name -> strings expected on that screen")
    eval_screen.set_defaults(func=cmd_eval_screen)

    add_call_commands(sub, ev)
    add_reply_commands(ev)
    add_annotation_commands(sub, ev)

    export = sub.add_parser("export", help="export models to ONNX, sessions to CSV/JSON/HTML").add_subparsers(
        dest="what", required=True)
    add_export_commands(export)
    export_text = export.add_parser("text", help="models/text -> text.int8.onnx (needs torch)")
    export_text.add_argument("--model-dir", type=Path)
    export_text.add_argument("--fp32", action="store_true", help="write text.fp32.onnx only (not used by the app)")
    export_text.set_defaults(func=cmd_export_text)

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

    import platformdirs

    folder = Path(platformdirs.user_log_dir("Assist", "Assist"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(folder / "assist.log", maxBytes=LOG_BYTES, backupCount=LOG_FILES,
                                      encoding="utf-8")
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
