"""Fit the conversation prior for emotion (``assist train dialogue-prior``): see assist/inference/dialogue_prior.py.

The lift of an emotion after the same speaker's previous one is counted on MELD train's gold labels; the
text model's temperature is the one that minimises the negative log-likelihood on the MELD train dialogues
held out of the text model's training (``split_meld_train``). MELD dev is only scored, never used to fit.

Then the support calibration: the temperature and a per-class bias are refitted by likelihood (L2 on the bias,
the weakest of ``SUPPORT_L2_GRID`` that costs MELD dev at most ``MELD_GUARD``) on the customer turns of the development set's tuning part (``resources/eval``), each read with
the customer's previous turn exactly as the window reads it. The test part is never used here; ``assist eval
conversations`` reports it.
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
SUPPORT_L2_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)  # L2 on the bias, tried weakest first
MELD_GUARD = 0.015  # the most MELD dev weighted-F1 (with previous turns) the support calibration may cost


def _short(report: dict[str, Any]) -> dict[str, float]:
    return {"emotion_accuracy": report["accuracy"], "emotion_macro_f1": report["macro_f1"], "ece": report["ece"]}


def read_conversations(probs: Sequence[np.ndarray], prior: DialoguePrior) -> list[np.ndarray]:
    """Each conversation's customer turns (rows of probabilities, in order) read with the previous turn's estimate."""
    out = []
    for rows in probs:
        read, previous = np.zeros_like(rows), None
        for i, row in enumerate(rows):
            combined = prior.combine(dict(zip(EKMAN_EMOTIONS, row)), previous)
            read[i] = [combined[k] for k in EKMAN_EMOTIONS]
            previous = combined
        out.append(read)
    return out


def fit_support_calibration(probs: Sequence[np.ndarray], gold: Sequence[Sequence[int]],
                            prior: DialoguePrior, l2: float = 0.1) -> DialoguePrior:
    """The prior with its temperature and per-class bias refitted on labelled support conversations (one array of
    the text model's customer-turn distributions per conversation, with the gold emotions)."""
    from scipy.optimize import minimize

    y = np.concatenate([np.asarray(g, dtype=int) for g in gold])

    def with_params(x: np.ndarray) -> DialoguePrior:
        return DialoguePrior(lift=prior.lift, temperature=float(np.exp(x[0])), weight=prior.weight,
                             labels=prior.labels, bias=x[1:] - x[1:].mean())

    def loss(x: np.ndarray) -> float:
        read = np.concatenate(read_conversations(probs, with_params(x)))
        return float(-np.mean(np.log(read[np.arange(len(y)), y] + 1e-12)) + l2 * np.sum(x[1:] ** 2))

    x0 = np.r_[np.log(prior.temperature), np.zeros(K)]
    fitted = minimize(loss, x0, method="Powell", options={"maxiter": 4000, "xtol": 1e-3, "ftol": 1e-5})
    x = fitted.x.copy()
    x[0] = np.clip(x[0], np.log(0.25), np.log(8.0))
    return with_params(x)


def support_turns(model: Any, split: str = "tune") -> tuple[list[np.ndarray], list[list[int]]]:
    """The text model's emotion distributions for the labelled customer turns of the development set's ``split``,
    per conversation, with their gold labels."""
    from assist.training.eval_conversations import load_conversations
    from assist.training.predict import predict

    probs, gold = [], []
    for conv in load_conversations():
        if conv.split != split:
            continue
        turns = [(t.text, t.labels["emotion"]) for t in conv.turns if t.role == "customer" and t.labels]
        if turns:
            probs.append(predict(model, [text for text, _ in turns])["emotion"])
            gold.append([EKMAN_EMOTIONS.index(label) for _, label in turns])
    return probs, gold


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


def fit_dialogue_prior(model: Any, data_dir: Path, out_path: Path | None = None,
                       support: bool = True) -> dict[str, Any]:
    """Fit (with the support calibration unless ``support`` is False), score on MELD dev and on the development
    set's tuning part, and save the prior beside the text model; returns the document written."""
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

    def meld_dev_wf1(candidate: DialoguePrior) -> float:
        return float(classification_report(dev_gold, read_dialogues(dev, dev_probs, candidate).argmax(1),
                                           EKMAN_EMOTIONS)["weighted_f1"])

    support_fit: dict[str, Any] = {}
    if support:
        probs, gold = support_turns(model, "tune")
        flat = [label for labels in gold for label in labels]

        def tune_report(candidate: DialoguePrior) -> dict[str, Any]:
            read = np.concatenate(read_conversations(probs, candidate))
            return classification_report(flat, read.argmax(1), EKMAN_EMOTIONS) | {
                "ece": round(probability_ece(read, flat), 4)}

        before, meld_before = tune_report(prior), meld_dev_wf1(prior)
        tried, chosen = [], None
        for l2 in SUPPORT_L2_GRID:  # weakest regularisation first: the first that keeps MELD is taken
            candidate = fit_support_calibration(probs, gold, prior, l2)
            meld = meld_dev_wf1(candidate)
            tried.append({"l2": l2, "meld_dev_weighted_f1": round(meld, 4), **_short(tune_report(candidate))})
            if meld >= meld_before - MELD_GUARD:
                chosen = l2
                break
        else:
            candidate = prior  # nothing kept MELD: no support calibration
        meld_temperature, prior = prior.temperature, candidate
        after = tune_report(prior)
        support_fit = {
            "data": f"resources/eval/conversations.jsonl, tuning part: {len(flat)} customer turns in {len(gold)} "
                    "conversations (the test part is not used)",
            "rule": f"the weakest L2 on the bias whose MELD dev weighted-F1 stays within {MELD_GUARD} of the MELD "
                    "calibration's (the development set is balanced by design; its class mix must not be learnt "
                    "as the world's)",
            "meld_temperature": round(meld_temperature, 4), "meld_dev_weighted_f1_before": round(meld_before, 4),
            "tried": tried, "chosen_l2": chosen,
            "tune_before": _short(before), "tune_after": _short(after),
        }
    alone = read_dialogues(dev, dev_probs, prior, use_prior=False)
    read = read_dialogues(dev, dev_probs, prior)
    text_alone = classification_report(dev_gold, dev_probs.argmax(1), EKMAN_EMOTIONS)
    with_turns = classification_report(dev_gold, read.argmax(1), EKMAN_EMOTIONS)
    summary = {
        "fitted_at": dt.datetime.now().isoformat(timespec="seconds"),
        "text_model": getattr(model, "version", "?"),
        "data": {"lift": f"MELD train gold labels, {len(train)} utterances (same speaker, previous turn)",
                 "temperature": f"{len(held)} MELD train utterances held out of the text model's training"
                                + ("; then refitted with the bias on support conversations (support_calibration)"
                                   if support else "")},
        **({"support_calibration": support_fit} if support_fit else {}),
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
