"""``assist eval text``: MELD dev, GoEmotions test, Bitext held-out test, or any CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS, ProgressState
from assist.inference.labels import INTENTS, canonical_intent
from assist.inference.text_model import TextModel
from assist.training.data import load_airline, load_bitext, load_dailydialog, load_goemotions, load_meld
from assist.training.metrics import classification_report, multilabel_report
from assist.training.predict import TASK_LABELS, predict


def evaluate_text(model: TextModel, data_dir: Path, state: ProgressState | None = None) -> dict[str, Any]:
    turns = int(model.config.get("context_turns", 0))
    meld = load_meld(data_dir, "dev", turns)
    goemo = load_goemotions(data_dir, "test")
    bitext = load_bitext(data_dir)["test"]
    probs = predict(model, [e.text for e in meld + bitext], state, contexts=[e.context for e in meld + bitext])
    n = len(meld)
    emo_pred, sent_pred, intent_pred = (probs[t].argmax(1) for t in ("emotion", "sentiment", "intent"))
    meld_emotion = classification_report([e.emotions[0] for e in meld], emo_pred[:n], EKMAN_EMOTIONS)
    meld_sentiment = classification_report([e.sentiment for e in meld], sent_pred[:n], SENTIMENTS)
    alone = predict(model, [e.text for e in meld]) if turns else probs
    meld_alone = classification_report([e.emotions[0] for e in meld], alone["emotion"][:n].argmax(1), EKMAN_EMOTIONS)
    intent = classification_report([e.intent for e in bitext], intent_pred[n:], INTENTS)
    goemo_pred = predict(model, [e.text for e in goemo], emotion_head="emotion_goemotions")["emotion"].argmax(1)
    goemotions = multilabel_report([e.emotions for e in goemo], list(goemo_pred), EKMAN_EMOTIONS)
    with_turns = _with_previous_turns(model, meld, probs["emotion"][:n])
    support = evaluate_support_sets(model, data_dir, state)
    return {
        "model_version": model.version,
        "weights_sha256": model.weights_sha256(),
        "device": model.device,
        "summary": {
            "meld_dev_context_turns": turns,
            "meld_dev_emotion_weighted_f1": meld_emotion["weighted_f1"],
            "meld_dev_emotion_weighted_f1_without_context": meld_alone["weighted_f1"],
            "meld_dev_emotion_weighted_f1_with_previous_turns": with_turns["weighted_f1"] if with_turns else None,
            "meld_dev_sentiment_weighted_f1": meld_sentiment["weighted_f1"],
            "goemotions_ekman_test_macro_f1": goemotions["macro_f1"],
            "bitext_test_intent_accuracy": intent["accuracy"],
            "bitext_test_intent_macro_f1": intent["macro_f1"],
            **support["summary"],
        },
        "meld_dev_emotion": meld_emotion,
        "meld_dev_emotion_without_context": meld_alone,
        "meld_dev_emotion_with_previous_turns": with_turns,
        "meld_dev_sentiment": meld_sentiment,
        "goemotions_ekman_test": goemotions,
        "bitext_test_intent": intent,
        "airline_held_out_sentiment": support["airline"],
        "dailydialog_validation_emotion": support["dailydialog"],
    }


def dailydialog_micro_f1(gold: list[int], pred: list[int]) -> float:
    """DailyDialog's standard figure: micro-F1 over the six emotions, neutral left out of the counted labels (a
    neutral turn predicted as an emotion is a false positive; an emotion predicted neutral, a false negative)."""
    from sklearn.metrics import f1_score

    labels = [i for i, name in enumerate(EKMAN_EMOTIONS) if name != "neutral"]
    return round(float(f1_score(gold, pred, labels=labels, average="micro", zero_division=0)), 4)


def evaluate_support_sets(model: TextModel, data_dir: Path, state: ProgressState | None = None) -> dict[str, Any]:
    """The public sets closest to support traffic: airline customers' tweets (sentiment, the fixed 10% held out of
    training) and DailyDialog validation (emotion, each turn read on its own)."""
    airline = load_airline(data_dir, "held")
    daily = load_dailydialog(data_dir, "validation")
    probs = predict(model, [e.text for e in airline + daily], state)
    n = len(airline)
    airline_report = classification_report([e.sentiment for e in airline], list(probs["sentiment"][:n].argmax(1)),
                                           SENTIMENTS)
    gold = [e.emotions[0] for e in daily]
    pred = list(probs["emotion"][n:].argmax(1))
    daily_report = classification_report(gold, pred, EKMAN_EMOTIONS) | {"micro_f1_without_neutral":
                                                                        dailydialog_micro_f1(gold, pred)}
    return {"summary": {"airline_held_out_sentiment_accuracy": airline_report["accuracy"],
                        "airline_held_out_sentiment_macro_f1": airline_report["macro_f1"],
                        "dailydialog_validation_emotion_micro_f1_without_neutral":
                            daily_report["micro_f1_without_neutral"],
                        "dailydialog_validation_emotion_macro_f1": daily_report["macro_f1"]},
            "airline": airline_report, "dailydialog": daily_report}


def evaluate_csv(model: TextModel, path: Path, text_col: str, label_col: str,
                 state: ProgressState | None = None) -> dict[str, Any]:
    """Evaluate on a user's CSV; the task is inferred from the label values."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or text_col not in reader.fieldnames or label_col not in reader.fieldnames:
            raise ValueError(f"{path} needs columns {text_col!r} and {label_col!r}; it has {reader.fieldnames}")
        rows = [(r[text_col] or "", (r[label_col] or "").strip().lower()) for r in reader]
    if not rows:
        raise ValueError(f"{path} has no rows.")
    task = _infer_task({label for _, label in rows})
    labels = TASK_LABELS[task]
    gold = [labels.index(canonical_intent(lab) if task == "intent" else lab) for _, lab in rows]
    probs = predict(model, [t for t, _ in rows], state)
    report = classification_report(gold, list(probs[task].argmax(1)), labels)
    return {"model_version": model.version, "csv": str(path), "task": task, **report}


def _infer_task(values: set[str]) -> str:
    if values <= set(EKMAN_EMOTIONS):
        return "emotion"
    if values <= set(SENTIMENTS):
        return "sentiment"
    try:
        {canonical_intent(v) for v in values}
    except ValueError:
        raise ValueError(
            "Labels must all be Ekman emotions, sentiments, or Bitext intents; "
            f"found {sorted(values)[:10]}"
        ) from None
    return "intent"


def _with_previous_turns(model: TextModel, meld: list, emotion_probs: np.ndarray) -> dict[str, Any] | None:
    """MELD dev read as the app reads a conversation: each turn with the speaker's previous one (the model's
    dialogue prior, models/text/dialogue_prior.json); None when the model folder has no prior."""
    from assist.inference.dialogue_prior import load_prior, prior_file
    from assist.training.dialogue_prior import read_dialogues

    path = prior_file(getattr(model, "model_dir", None))
    if path is None:
        return None
    read = read_dialogues(meld, emotion_probs, load_prior(path))
    return classification_report([e.emotions[0] for e in meld], read.argmax(1), EKMAN_EMOTIONS)
