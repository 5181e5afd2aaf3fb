"""``assist train text|teacher|fusion|dialogue-prior``: the training commands (each under a progress bar, JSON out)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from assist.app.cli.common import apply_sets, fail, run_json_job


def cmd_train_dialogue_prior(args: argparse.Namespace) -> int:
    """Fit the conversation prior for the text model in --model-dir (default models/text); seconds on a CPU."""
    from assist.inference.errors import InferenceError
    from assist.inference.text_onnx import load_text_model
    from assist.training.data import default_data_dir
    from assist.training.dialogue_prior import fit_dialogue_prior

    try:
        model = load_text_model(args.model_dir, device="cpu")
        doc = fit_dialogue_prior(model, Path(args.data) if args.data else default_data_dir(),
                                 support=not args.no_support)
    except (InferenceError, OSError) as exc:
        return fail(str(exc))
    print(json.dumps(doc["about"], indent=2))
    return 0


def cmd_train_fusion(args: argparse.Namespace) -> int:
    from assist.inference.fusion.model import default_model_dir
    from assist.training.data import default_data_dir
    from assist.training.train_fusion import FusionTrainOptions, train_fusion

    opts = FusionTrainOptions()
    problem = apply_sets(opts, args.set, "fusion option")
    if problem:
        return fail(problem)
    return run_json_job("train fusion", lambda state: train_fusion(
        Path(args.data or default_data_dir()), Path(args.out or default_model_dir()), opts, state))


def cmd_train_teacher(args: argparse.Namespace) -> int:
    """Fine-tune a larger encoder (a local folder) on MELD and write its soft labels for ``train text``."""
    from assist.training.data import default_data_dir
    from assist.training.teacher import TeacherOptions, train_teacher

    opts = TeacherOptions()
    problem = apply_sets(opts, args.set, "teacher option")
    if problem:
        return fail(problem)
    if args.quick:
        opts.epochs, opts.meld_limit, opts.student_goemotions_limit = 1, 64, 64
    encoder = Path(args.encoder)
    if not (encoder / "config.json").is_file():
        return fail(f"{encoder} is not a transformers model folder (no config.json); models/text/MODEL_CARD.md "
                     "('Distillation from a larger encoder') says where the teacher measured there comes from")
    return run_json_job("train teacher", lambda state: train_teacher(
        Path(args.data or default_data_dir()), encoder, Path(args.out), opts, state))


def cmd_train_text(args: argparse.Namespace) -> int:
    from assist.inference.text_model import default_model_dir
    from assist.training.data import default_data_dir
    from assist.training.train_text import TrainOptions, train_text

    opts = TrainOptions(device=args.device)
    if args.seed is not None:
        opts.seed = args.seed
    if args.epochs is not None:
        opts.epochs = args.epochs
    problem = apply_sets(opts, args.set, "training option", reserved=("device",))
    if problem:
        return fail(problem)
    if args.quick:
        opts.epochs, opts.meld_limit, opts.goemotions_limit, opts.bitext_limit = 1, 300, 300, 300
        opts.dailydialog_neutral, opts.dailydialog_joy, opts.airline, opts.satisfaction_neutral = 50, 50, False, 50
    if opts.teacher:  # a wrong file is said now, not after the encoding pass
        from assist.training.distillation import load_teacher_probs

        try:
            load_teacher_probs(Path(opts.teacher))
        except (OSError, ValueError) as exc:
            return fail(f"teacher: {exc}")
    extra = None
    if args.with_annotations:
        from assist.app.cli.annotations import annotated_examples

        try:
            extra = annotated_examples(Path(args.with_annotations))
        except (OSError, ValueError) as exc:
            return fail(str(exc))
        print(f"{len(extra)} corrected turns from {args.with_annotations}, each seen {opts.annotation_repeat} "
              "times an epoch", file=sys.stderr)
    return run_json_job("train text", lambda state: train_text(
        Path(args.data or default_data_dir()), Path(args.out or default_model_dir()), opts, state, extra))


def add_train_commands(sub: Any) -> None:
    train = sub.add_parser("train", help="train models").add_subparsers(dest="what", required=True)
    train_text = train.add_parser("text", help="text emotion / sentiment / intent model")
    train_text.add_argument("--data", help="shared data folder (default ../shared/data)")
    train_text.add_argument("--out", help="output folder (default models/text)")
    train_text.add_argument("--epochs", type=int, help="default: the recipe's (see TrainOptions)")
    train_text.add_argument("--seed", type=int, help="default 7")
    train_text.add_argument("--set", action="append", metavar="KEY=VALUE",
                            help="override a recipe option, e.g. --set context_turns=2 (repeatable)")
    train_text.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    train_text.add_argument("--quick", action="store_true", help="tiny run to check the setup")
    train_text.add_argument("--with-annotations", metavar="JOURNAL",
                            help="also learn from supervisors' corrections in this journal (assist annotate)")
    train_text.set_defaults(func=cmd_train_text)

    train_teacher = train.add_parser("teacher", help="fine-tune a larger encoder on MELD; its soft labels teach "
                                     "the text model (train text --set teacher=OUT/teacher_probs.json)")
    train_teacher.add_argument("--encoder", required=True, help="a transformers encoder folder (e.g. all-mpnet-base-v2)")
    train_teacher.add_argument("--out", required=True, help="folder for teacher_probs.json")
    train_teacher.add_argument("--data", help="shared data folder (default ../shared/data)")
    train_teacher.add_argument("--set", action="append", metavar="KEY=VALUE", help="override an option (repeatable)")
    train_teacher.add_argument("--quick", action="store_true", help="tiny run to check the setup")
    train_teacher.set_defaults(func=cmd_train_teacher)

    train_fusion = train.add_parser("fusion", help="multimodal fusion model (text, context, voice, screen)")
    train_fusion.add_argument("--data", help="shared data folder (default ../shared/data)")
    train_fusion.add_argument("--out", help="output folder (default models/fusion)")
    train_fusion.add_argument("--set", action="append", metavar="KEY=VALUE", help="override an option (repeatable)")
    train_fusion.set_defaults(func=cmd_train_fusion)

    train_prior = train.add_parser("dialogue-prior", help="conversation prior for emotion: the customer's previous "
                                   "turn, fitted for the text model (seconds)")
    train_prior.add_argument("--data", help="shared data folder (default ../shared/data)")
    train_prior.add_argument("--model-dir", type=Path, help="text model folder (default models/text)")
    train_prior.add_argument("--no-support", action="store_true",
                             help="skip the support calibration (temperature and per-class bias refitted on the "
                                  "development set's tuning part, resources/eval)")
    train_prior.set_defaults(func=cmd_train_dialogue_prior)

