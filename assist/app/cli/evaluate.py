"""``assist eval text | voice | screen | conversations``: the shipped text, voice and screen models on the shared data or your files
(JSON on stdout). The other ``eval`` commands live with their groups (calls, replies, annotations)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from assist.app.cli.common import backend_option, device_option, fail, progress_bar, run_json_job
from assist.domain import ProgressState


def cmd_eval_text(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.inference.text_onnx import load_text_model
    from assist.training.data import default_data_dir
    from assist.training.eval_text import evaluate_csv, evaluate_text

    try:
        model = load_text_model(args.model_dir, device=args.device, backend=args.backend, threads=args.threads)
    except ModelUnavailable as exc:
        return fail(str(exc))
    state, bar = progress_bar("eval text")
    try:
        if args.csv:
            result = evaluate_csv(model, Path(args.csv), args.text_col, args.label_col, state)
        else:
            result = evaluate_text(model, Path(args.data or default_data_dir()), state)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    finally:
        bar.close()
    text = json.dumps(result, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def cmd_eval_voice(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.training.eval_media import evaluate_voice, voice_items

    if args.loso:
        from assist.training.data import default_data_dir
        from assist.training.train_voice import evaluate_voice_loso

        data = Path(args.data or default_data_dir())
        return run_json_job("eval voice (LOSO)", lambda state: evaluate_voice_loso(data, state=state))
    if not args.wav_dir and not args.csv:
        return fail("give --wav-dir DIR (EmoDB file names), --csv FILE (path,label) or --loso")
    wav_dir, csv = Path(args.wav_dir) if args.wav_dir else None, Path(args.csv) if args.csv else None
    outcome: dict[str, Any] = {}

    def job(state: ProgressState) -> dict[str, Any]:
        outcome.update(evaluate_voice(voice_items(wav_dir, csv), state))
        return outcome

    code = run_json_job("eval voice", job, (ValueError, OSError, ModelUnavailable))
    if code == 0 and not outcome.get("scored"):  # nothing could be scored: a failure, whatever was printed
        return fail(f"No audio file could be scored ({len(outcome.get('skipped', []))} skipped; reasons above).")
    return code


def cmd_eval_screen(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.training.eval_media import evaluate_screen

    truth = Path(args.truth) if args.truth else None
    return run_json_job("eval screen", lambda state: evaluate_screen(Path(args.dir), truth, state),
                        (ValueError, OSError, ModelUnavailable))


def cmd_eval_conversations(args: argparse.Namespace) -> int:
    from assist.inference.errors import ModelUnavailable
    from assist.pipeline.assembly import app_engine_config
    from assist.pipeline.engines import load_engines
    from assist.replies.kb.entries import KnowledgeBaseError
    from assist.training.eval_conversations import ConversationFileError, evaluate_conversations

    # the shipped reply bank, not this user's edited one: the figures are the product's, the same on any machine
    scratch = tempfile.TemporaryDirectory(prefix="assist-eval-")
    config = dataclasses.replace(app_engine_config(model_dir=args.model_dir, device=args.device, backend=args.backend,
                                                   fusion=args.fusion, llm="none"),
                                 macro_bank=Path(scratch.name) / "macros.json")
    try:
        engines = load_engines(config)
    except (ModelUnavailable, KnowledgeBaseError) as exc:
        scratch.cleanup()
        return fail(str(exc))
    state, bar = progress_bar(f"eval conversations ({args.split})")
    try:
        result = evaluate_conversations(engines, Path(args.file) if args.file else None, args.split, state)
    except ConversationFileError as exc:
        return fail(str(exc))
    finally:
        bar.close()
        scratch.cleanup()
    if not args.details:
        result.get("suggestion_fit", {}).pop("details", None)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def add_eval_commands(ev: argparse._SubParsersAction) -> None:
    eval_text = ev.add_parser("text", help="MELD dev, GoEmotions test, Bitext test, or --csv")
    eval_text.add_argument("--data", help="shared data folder (default ../shared/data)")
    eval_text.add_argument("--csv", help="evaluate on your own CSV instead")
    eval_text.add_argument("--text-col", default="text")
    eval_text.add_argument("--label-col", default="label")
    eval_text.add_argument("--model-dir", type=Path)
    eval_text.add_argument("--output", help="also write the JSON here")
    device_option(eval_text)
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

    conversations = ev.add_parser("conversations", help="the labelled support conversations played through the window's "
                                  "path: emotion, sentiment, conversation intent, escalation, suggestion fit")
    conversations.add_argument("--file", help="a conversations JSON-lines file (default: resources/eval/conversations.jsonl)")
    conversations.add_argument("--split", choices=["test", "tune", "all"], default="test",
                               help="which part to play (the test part unless tuning)")
    conversations.add_argument("--model-dir", type=Path)
    conversations.add_argument("--fusion", action="store_true", help="chat turns through the fusion model (as --fusion)")
    conversations.add_argument("--details", action="store_true", help="list every suggestion-fit verdict")
    conversations.add_argument("--output", help="also write the JSON here")
    device_option(conversations)
    backend_option(conversations)
    conversations.set_defaults(func=cmd_eval_conversations)


__all__ = ["add_eval_commands"]
