"""The figures every evaluation reports, defined once: classification reports, weighted F1, calibration (ECE) and
the temperature that calibrates a model's logits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


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


def weighted_f1(gold: np.ndarray, logits: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    keep = gold >= 0
    return float(f1_score(gold[keep], logits[keep].argmax(1), average="weighted"))


def fit_temperature(logits: np.ndarray, gold: np.ndarray | Sequence[int], binary: bool = False,
                    bounds: tuple[float, float] = (0.25, 8.0)) -> float:
    """The temperature T minimising the negative log-likelihood of ``gold`` under softmax(logits / T) (a sigmoid of
    one logit column when ``binary``) on held-out data; rows with a negative gold label are skipped. Bounded scalar
    search within ``bounds``. Log-probabilities are logits too (the conversation prior passes those)."""
    from scipy.optimize import minimize_scalar

    logits, gold = np.asarray(logits, dtype=np.float64), np.asarray(gold)
    keep = gold >= 0
    z, y = logits[keep], gold[keep]

    def nll(t: float) -> float:
        if binary:
            p = 1 / (1 + np.exp(-z[:, 0] / t))
            return float(-np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9)))
        s = z / t
        s = s - s.max(1, keepdims=True)
        return float(-np.mean(s[np.arange(len(y)), y.astype(int)] - np.log(np.exp(s).sum(1))))

    return float(minimize_scalar(nll, bounds=bounds, method="bounded").x)


def ece(logits: np.ndarray, gold: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top class (equal-width confidence bins)."""
    keep = gold >= 0
    z = logits[keep] - logits[keep].max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    conf, pred = p.max(1), p.argmax(1)
    correct = (pred == gold[keep]).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def probability_ece(probs: np.ndarray, gold: Sequence[int], bins: int = 10) -> float:
    """``ece`` on probabilities (their logs are logits)."""
    return ece(np.log(np.clip(probs, 1e-12, 1.0)), np.asarray(gold), bins)


__all__ = ["classification_report", "ece", "fit_temperature", "multilabel_report", "probability_ece", "weighted_f1"]
