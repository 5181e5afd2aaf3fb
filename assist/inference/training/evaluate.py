"""``assist eval text``: MELD dev, GoEmotions test, Bitext held-out test, or any CSV."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS, ProgressState
from assist.inference.labels import INTENTS, canonical_intent
from assist.inference.text_model import TextModel
from assist.inference.training.data import load_bitext, load_goemotions, load_meld

TASK_LABELS = {"emotion": EKMAN_EMOTIONS, "sentiment": SENTIMENTS, "intent": INTENTS}


def predict(model: TextModel, texts: Sequence[str], state: ProgressState | None = None,
            batch_size: int = 64, contexts: Sequence[str] | None = None,
            emotion_head: str = "emotion") -> dict[str, np.ndarray]:
    """Probabilities per task for every text (batched by length for speed)."""
    ctx = list(contexts) if contexts is not None else [""] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: (bool(ctx[i]), len(texts[i]) + len(ctx[i])))
    probs: dict[str, np.ndarray] = {t: np.zeros((len(texts), len(labels))) for t, labels in TASK_LABELS.items()}
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        results = model.analyze([texts[i] or "." for i in idx], [ctx[i] for i in idx], emotion_head)
        for i, result in zip(idx, results):
            probs["emotion"][i] = [result.emotion[k] for k in EKMAN_EMOTIONS]
            probs["sentiment"][i] = [result.sentiment[k] for k in SENTIMENTS]
            probs["intent"][i] = [result.intent[k] for k in INTENTS]
        if state is not None:
            state.set_progress(min(1.0, (start + batch_size) / max(1, len(order))), "evaluating")
    return probs


def classification_report(gold: Sequence[int], pred: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    ids = list(range(len(labels)))
    per_class = f1_score(gold, pred, labels=ids, average=None, zero_division=0)
    return {
        "n": len(gold),
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "weighted_f1": round(float(f1_score(gold, pred, labels=ids, average="weighted", zero_division=0)), 4),
        "macro_f1": round(float(f1_score(gold, pred, labels=ids, average="macro", zero_division=0)), 4),
        "macro_recall": round(float(recall_score(gold, pred, labels=ids, average="macro", zero_division=0)), 4),
        "per_class_f1": {labels[i]: round(float(f), 4) for i, f in enumerate(per_class)},
        "confusion_matrix": {"labels": list(labels), "rows_gold_cols_pred": confusion_matrix(gold, pred, labels=ids).tolist()},
    }


def multilabel_report(gold_sets: Sequence[Sequence[int]], pred: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """GoEmotions is multi-label: the prediction is the top class, scored against every gold label."""
    from sklearn.metrics import f1_score

    n = len(labels)
    gold_hot = np.zeros((len(gold_sets), n), dtype=int)
    pred_hot = np.zeros((len(gold_sets), n), dtype=int)
    for row, (gold, p) in enumerate(zip(gold_sets, pred)):
        gold_hot[row, list(gold)] = 1
        pred_hot[row, p] = 1
    per_class = f1_score(gold_hot, pred_hot, average=None, zero_division=0)
    single = [i for i, g in enumerate(gold_sets) if len(g) == 1]
    report = {
        "n": len(gold_sets),
        "macro_f1": round(float(f1_score(gold_hot, pred_hot, average="macro", zero_division=0)), 4),
        "decision_rule": "top-1 class vs multi-label gold",
        "per_class_f1": {labels[i]: round(float(f), 4) for i, f in enumerate(per_class)},
    }
    single_report = classification_report([gold_sets[i][0] for i in single], [pred[i] for i in single], labels)
    report["single_label_subset"] = {k: single_report[k] for k in ("n", "accuracy", "macro_f1", "confusion_matrix")}
    return report


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
        },
        "meld_dev_emotion": meld_emotion,
        "meld_dev_emotion_without_context": meld_alone,
        "meld_dev_emotion_with_previous_turns": with_turns,
        "meld_dev_sentiment": meld_sentiment,
        "goemotions_ekman_test": goemotions,
        "bitext_test_intent": intent,
    }


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
    from assist.inference.training.dialogue_prior import read_dialogues

    path = prior_file(getattr(model, "model_dir", None))
    if path is None:
        return None
    read = read_dialogues(meld, emotion_probs, load_prior(path))
    return classification_report([e.emotions[0] for e in meld], read.argmax(1), EKMAN_EMOTIONS)
