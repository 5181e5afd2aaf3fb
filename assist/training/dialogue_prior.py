"""Fit the conversation prior for emotion (``assist train dialogue-prior``): see assist/inference/dialogue_prior.py.

The lift of an emotion after the same speaker's previous one is counted on MELD train's gold labels; the
text model's temperature is the one that minimises the negative log-likelihood on the MELD train dialogues
held out of the text model's training (``split_meld_train``). MELD dev is only scored, never used to fit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS
from assist.inference.dialogue_prior import FILE_NAME, DialoguePrior
from assist.training.data import TextExample, load_meld, split_meld_train
from assist.training.metrics import fit_temperature, probability_ece

K = len(EKMAN_EMOTIONS)


def count_lift(examples: Sequence[TextExample], smoothing: float = 1.0) -> np.ndarray:
    """P(e | the same speaker's previous e') / P(e) from gold labels, in dialogue order (Laplace-smoothed)."""
    pairs = np.full((K, K), smoothing)
    totals = np.full(K, smoothing)
    last: dict[tuple[str, str], int] = {}
    for ex in examples:
        label = ex.emotions[0]
        totals[label] += 1
        key = (ex.dialogue, ex.speaker)
        if key in last:
            pairs[last[key], label] += 1
        last[key] = label
    return (pairs / pairs.sum(1, keepdims=True)) / (totals / totals.sum())[None, :]


def read_dialogues(examples: Sequence[TextExample], probs: np.ndarray, prior: DialoguePrior,
                   use_prior: bool = True) -> np.ndarray:
    """Each turn's distribution read as the app reads a conversation: with the speaker's previous estimate."""
    out = np.zeros_like(probs)
    previous: dict[tuple[str, str], dict[str, float]] = {}
    for i, ex in enumerate(examples):
        key = (ex.dialogue, ex.speaker)
        combined = prior.combine(dict(zip(EKMAN_EMOTIONS, probs[i])), previous.get(key) if use_prior else None)
        previous[key] = combined
        out[i] = [combined[k] for k in EKMAN_EMOTIONS]
    return out


def fit_dialogue_prior(model: Any, data_dir: Path, out_path: Path | None = None) -> dict[str, Any]:
    """Fit, score on MELD dev and save the prior beside the text model; returns the summary written."""
    from assist.training.metrics import classification_report
    from assist.training.predict import predict

    train, held = split_meld_train(load_meld(data_dir, "train", 0))
    dev = load_meld(data_dir, "dev", 0)
    held_probs = predict(model, [e.text for e in held])["emotion"]
    held_gold = [e.emotions[0] for e in held]
    prior = DialoguePrior(lift=count_lift(train), temperature=fit_temperature(np.log(np.clip(held_probs, 1e-9, 1.0)), held_gold,
                                                                      bounds=(0.5, 5.0)))
    dev_probs = predict(model, [e.text for e in dev])["emotion"]
    dev_gold = [e.emotions[0] for e in dev]
    alone = read_dialogues(dev, dev_probs, prior, use_prior=False)
    read = read_dialogues(dev, dev_probs, prior)
    text_alone = classification_report(dev_gold, dev_probs.argmax(1), EKMAN_EMOTIONS)
    with_turns = classification_report(dev_gold, read.argmax(1), EKMAN_EMOTIONS)
    summary = {
        "fitted_at": dt.datetime.now().isoformat(timespec="seconds"),
        "text_model": getattr(model, "version", "?"),
        "data": {"lift": f"MELD train gold labels, {len(train)} utterances (same speaker, previous turn)",
                 "temperature": f"{len(held)} MELD train utterances held out of the text model's training"},
        "meld_dev": {
            "emotion_weighted_f1_text_alone": text_alone["weighted_f1"],
            "emotion_weighted_f1_with_previous_turns": with_turns["weighted_f1"],
            "emotion_macro_f1_with_previous_turns": with_turns["macro_f1"],
            "ece_text_alone": round(probability_ece(dev_probs, dev_gold), 4),
            "ece_tempered": round(probability_ece(alone, dev_gold), 4),
            "ece_with_previous_turns": round(probability_ece(read, dev_gold), 4),
        },
    }
    doc = prior.to_dict() | {"about": summary}
    path = out_path or Path(model.model_dir) / FILE_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return doc
