"""``assist annotate | annotations list | eval annotated``: a supervisor's corrections and comments on a journal,
and how the model scores on the corrected turns.

Annotations never change what the model recorded: ``eval annotated`` compares the stored outputs (and, with
``--rescore``, the shipped text model run again on the stored text) with the latest correction of each turn.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assist.app.cli.common import fail


def _journal(args: argparse.Namespace) -> Path:
    from assist.storage.connection import default_journal_path

    return Path(args.db).expanduser() if args.db else default_journal_path()


# --- scoring ---------------------------------------------------------------------------------------------------


def score(pairs: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    """Accuracy and macro-F1 of (gold, predicted) pairs. Macro-F1 averages the per-label F1 over every label seen
    as gold or predicted (sklearn's default); a label never predicted right scores 0. None when there are none."""
    n = len(pairs)
    if not n:
        return {"turns": 0, "correct": 0, "accuracy": None, "macro_f1": None}
    correct = sum(gold == predicted for gold, predicted in pairs)
    labels = sorted({gold for gold, _ in pairs} | {p for _, p in pairs if p is not None})
    f1s = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in pairs)
        gold_n = sum(g == label for g, _ in pairs)
        predicted_n = sum(p == label for _, p in pairs)
        f1s.append(2 * tp / (gold_n + predicted_n) if gold_n + predicted_n else 0.0)
    return {"turns": n, "correct": correct, "accuracy": round(correct / n, 4),
            "macro_f1": round(sum(f1s) / len(f1s), 4)}


def score_turns(turns: Sequence[Any], predictions: Sequence[tuple[str | None, str | None]] | None = None
                ) -> dict[str, dict[str, Any]]:
    """Emotion and intent scores over the corrected turns (LabelledTurn); the stored model labels unless
    ``predictions`` gives (emotion, intent) per turn (None: that turn was not scored)."""
    if predictions is None:
        predictions = [(t.model_emotion, t.model_intent) for t in turns]
    emotion = [(t.emotion, p[0]) for t, p in zip(turns, predictions) if t.emotion is not None and p[0] is not None]
    intent = [(t.intent, p[1]) for t, p in zip(turns, predictions) if t.intent is not None and p[1] is not None]
    return {"emotion": score(emotion), "intent": score(intent)}


def rescore(turns: Sequence[Any], model: Any) -> tuple[list[tuple[str | None, str | None]], int]:
    """The text model's (emotion, intent) for each turn's stored text; turns it cannot read are (None, None)."""
    from assist.inference.errors import BadInput

    predictions: list[tuple[str | None, str | None]] = []
    skipped = 0
    for turn in turns:
        try:
            analysis = model.analyze([turn.text])[0]
        except BadInput:
            predictions.append((None, None))
            skipped += 1
            continue
        predictions.append((max(analysis.emotion, key=analysis.emotion.__getitem__),
                            max(analysis.intent, key=analysis.intent.__getitem__)))
    return predictions, skipped


# --- commands --------------------------------------------------------------------------------------------------


def cmd_annotate(args: argparse.Namespace) -> int:
    from assist.inference.labels import INTENTS
    from assist.storage import StorageError
    from assist.storage.annotations import AnnotationStore

    wanted = [(field, value) for field, value in (("emotion", args.emotion), ("intent", args.intent),
                                                  ("comment", args.comment)) if value is not None]
    if not wanted:
        return fail("say what to record: --emotion, --intent and/or --comment")
    if not (args.event or args.session):
        return fail("say which turn (--event ID) or, for a comment, which session (--session ID)")
    if args.session and not args.event and [f for f, _ in wanted if f != "comment"]:
        return fail("emotion and intent labels belong to a customer's turn: give --event ID")
    try:
        store = AnnotationStore(_journal(args), args.author, intents=INTENTS)
        for field, value in wanted:  # every value is checked before anything is saved
            store.check(field, value)
        target = args.event or store.find_session(args.session)  # a session by its id or a unique start of it
        saved = [store.comment(target, value) if field == "comment" else store.annotate(target, field, value)
                 for field, value in wanted]
    except (StorageError, ValueError) as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps([a.to_dict() for a in saved], indent=2, ensure_ascii=False))
    else:
        for a in saved:
            print(f"saved {a.field} {a.value!r} on {'turn ' + a.event_id if a.event_id else 'session ' + a.session_id}"
                  f" by {a.author} ({a.id})")
    return 0


def cmd_annotations_list(args: argparse.Namespace) -> int:
    from assist.storage import StorageError
    from assist.storage.annotations import AnnotationStore

    try:
        store = AnnotationStore(_journal(args))
        found = store.annotations(store.find_session(args.session) if args.session else None)
    except StorageError as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps([a.to_dict() for a in found], indent=2, ensure_ascii=False))
        return 0
    if not found:
        print("No annotations yet.")
        return 0
    replaced = {a.replaces for a in found if a.replaces}
    for a in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a.created_at))
        where = f"turn {a.event_id}" if a.event_id else f"session {a.session_id}"
        mark = "  (replaced)" if a.id in replaced else ""
        print(f"{when}  {a.author}  {where}  {a.field}: {a.value}{mark}")
    print(f"{len(found)} annotations")
    return 0


def cmd_eval_annotated(args: argparse.Namespace, load_model: Callable[..., Any] | None = None) -> int:
    from assist.storage import StorageError
    from assist.storage.annotations import AnnotationStore

    try:
        store = AnnotationStore(_journal(args))
        turns = store.labelled_turns(store.find_session(args.session) if args.session else None)
    except StorageError as exc:
        return fail(str(exc))
    report: dict[str, Any] = {"journal": str(_journal(args)), "annotated_turns": len(turns),
                              "stored": score_turns(turns)}
    if args.rescore:
        from assist.inference.errors import ModelUnavailable

        try:
            model = (load_model or _load_text_model)(args.model_dir, device=args.device, backend=args.backend)
        except ModelUnavailable as exc:
            return fail(str(exc))
        predictions, skipped = rescore(turns, model)
        report["rescored"] = {"model": getattr(model, "version", "unknown"), "skipped": skipped,
                              **score_turns(turns, predictions)}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if not turns:
        print(f"No corrected turns in {report['journal']} yet: annotate some with 'assist annotate'.")
        return 0
    print(f"{len(turns)} corrected turns in {report['journal']}")
    for name in ("stored", "rescored"):
        if name in report:
            print(_summary(name, report[name]))
    return 0


def _load_text_model(model_dir: Path | None, **options: Any) -> Any:
    from assist.inference.text_onnx import load_text_model

    return load_text_model(model_dir, **options)


def _summary(name: str, scores: dict[str, Any]) -> str:
    head = f"  {name} outputs" if name == "stored" else f"  {scores['model']} run again ({scores['skipped']} skipped)"
    parts = []
    for field in ("emotion", "intent"):
        s = scores[field]
        parts.append(f"{field}: none corrected" if not s["turns"] else
                     f"{field}: accuracy {s['accuracy']:.3f}, macro-F1 {s['macro_f1']:.3f} over {s['turns']} turns")
    return f"{head}: " + "; ".join(parts)


# --- parser ----------------------------------------------------------------------------------------------------


def _eval_group(sub: Any) -> Any:
    """The ``eval`` subcommands group (cli.py makes it); made here when this parser has none."""
    parser = sub.choices.get("eval")
    if parser is None:
        return sub.add_parser("eval", help="evaluate models").add_subparsers(dest="what", required=True)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("the eval command has no subcommands")


def annotated_examples(journal: Path) -> list:
    """The corrected customer turns of a journal as training examples (source "annotation"): the latest corrected
    emotion and/or intent of each turn. Raises ValueError (in words) when the journal cannot be read."""
    from assist.domain import EKMAN_EMOTIONS
    from assist.inference.labels import INTENTS
    from assist.storage import StorageError
    from assist.storage.annotations import AnnotationStore
    from assist.training.data import TextExample

    try:
        turns = AnnotationStore(journal).labelled_turns()
    except StorageError as exc:
        raise ValueError(str(exc)) from exc
    examples = []
    for turn in turns:
        emotion = EKMAN_EMOTIONS.index(turn.emotion) if turn.emotion in EKMAN_EMOTIONS else None
        intent = INTENTS.index(turn.intent) if turn.intent in INTENTS else None
        if turn.text and (emotion is not None or intent is not None):
            examples.append(TextExample(turn.text, "annotation", emotions=(emotion,) if emotion is not None else (),
                                        intent=intent))
    return examples


def add_annotation_commands(sub: Any, ev: Any = None) -> None:
    """``annotate`` and ``annotations list`` on ``sub``; ``eval annotated`` on ``ev`` (found in ``sub`` when
    not given)."""
    annotate = sub.add_parser("annotate", help="correct a customer turn's emotion / intent, or leave a comment")
    annotate.add_argument("--event", help="the turn (event id; see 'assist annotations list' or the review window)")
    annotate.add_argument("--session", help="a session (its id or a unique start of it, such as the 8 characters "
                          "the app shows), for a comment on the whole conversation")
    annotate.add_argument("--emotion", help="the right emotion (anger, disgust, fear, joy, neutral, sadness, "
                          "surprise)")
    annotate.add_argument("--intent", help="the right intent (one of the text model's 27)")
    annotate.add_argument("--comment", help="a comment (redacted when the session was recorded with redaction)")
    annotate.add_argument("--author", required=True, help="who annotates (recorded with every annotation)")
    annotate.set_defaults(func=cmd_annotate)

    listing = sub.add_parser("annotations", help="a journal's annotations").add_subparsers(dest="what",
                                                                                           required=True)
    list_cmd = listing.add_parser("list", help="every annotation, oldest first (replaced ones marked)")
    list_cmd.set_defaults(func=cmd_annotations_list)

    annotated = (ev or _eval_group(sub)).add_parser(
        "annotated", help="score the model on a journal's corrected turns (stored outputs; --rescore: run again)")
    annotated.add_argument("--rescore", action="store_true", help="also run the shipped text model on the turns")
    annotated.add_argument("--model-dir", type=Path, help="text model folder (default: models/text)")
    annotated.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    annotated.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    annotated.set_defaults(func=cmd_eval_annotated)

    for p in (annotate, list_cmd, annotated):
        p.add_argument("--db", help="journal file (default: the per-user journal)")
        p.add_argument("--json", action="store_true")
    for p in (list_cmd, annotated):
        p.add_argument("--session", help="only this session (its id or a unique start of it)")


__all__ = ["add_annotation_commands", "rescore", "score", "score_turns"]
