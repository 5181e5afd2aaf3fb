"""Conversation context for emotion: a speaker's previous turn as a prior for their next one.

People stay in a mood: in MELD's training dialogues a speaker's emotion follows their own previous one far
more often than the class frequencies alone would say (anger after anger, joy after joy). For each customer
turn the text model's distribution, tempered to be calibrated, is combined with what the customer's previous
turn (its already-combined estimate ``q``) says about this one::

    log p'(e)  =  log p(e) / T  +  b(e)  +  beta * log sum_e' q(e') * P(e | e') / P(e)

``P(e | e') / P(e)`` is the lift of emotion ``e`` after ``e'`` for the same speaker, counted on MELD train's
gold labels (not on model outputs, so no stacking); ``T`` is the temperature that best calibrates the text
model on MELD train dialogues it was not trained on; ``beta = 1`` is the Bayes combination. ``T`` and the
per-class bias ``b`` are then refitted on support traffic: the tuning part of the development set
(``resources/eval/conversations.jsonl``), by likelihood, read exactly as above (vector scaling with one temperature:
support customers say "thanks so much!!" far more often than sitcom characters, and their fear is written, not
shouted). All are fitted by ``assist train dialogue-prior`` (``assist/training/dialogue_prior.py``) into
``models/text/dialogue_prior.json``. Qt-free, numpy only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS

FILE_NAME = "dialogue_prior.json"
MAX_BIAS = 5.0  # a larger log-odds shift would overrule the text model: a corrupt or mis-fitted file


class DialoguePriorError(ValueError):
    """The prior file is missing, unreadable or not for these labels."""


@dataclass(frozen=True)
class DialoguePrior:
    lift: np.ndarray  # (7, 7): P(e | previous e') / P(e), rows e', columns e
    temperature: float  # for the text model's distribution (1.0 for an already calibrated one)
    weight: float = 1.0
    labels: tuple[str, ...] = tuple(EKMAN_EMOTIONS)
    bias: np.ndarray | None = None  # (7,): per-class log-odds shift (support calibration); None = zeros

    def combine(self, probs: dict[str, float], previous: dict[str, float] | None,
                temperature: float | None = None) -> dict[str, float]:
        """This turn's distribution read with the same speaker's previous one (None: only tempered)."""
        temp = self.temperature if temperature is None else temperature
        p = np.array([max(float(probs.get(k, 0.0)), 1e-9) for k in self.labels])
        score = np.log(p / p.sum()) / max(temp, 1e-3)
        if self.bias is not None:
            score = score + self.bias
        if previous:
            q = np.array([max(float(previous.get(k, 0.0)), 0.0) for k in self.labels])
            if q.sum() > 0:
                score = score + self.weight * np.log((q / q.sum()) @ self.lift + 1e-9)
        out = np.exp(score - score.max())
        out /= out.sum()
        return {k: float(v) for k, v in zip(self.labels, out)}

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"labels": list(self.labels), "temperature": self.temperature, "weight": self.weight}
        if self.bias is not None:
            doc["bias"] = [round(float(v), 6) for v in self.bias]
        return doc | {"lift": [[round(float(v), 6) for v in row] for row in self.lift]}


def prior_file(model_dir: str | Path | None) -> Path | None:
    """The prior fitted for the text model in ``model_dir``, or None when the folder has none (a model of the user's
    own without one: each message is then read on its own)."""
    path = Path(model_dir) / FILE_NAME if model_dir else None
    return path if path is not None and path.exists() else None


def load_prior(path: str | Path) -> DialoguePrior:
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        labels = tuple(doc["labels"])
        lift = np.asarray(doc["lift"], dtype=np.float64)
        temperature, weight = float(doc["temperature"]), float(doc.get("weight", 1.0))
        bias = np.asarray(doc["bias"], dtype=np.float64) if doc.get("bias") is not None else None
    except FileNotFoundError:
        raise DialoguePriorError(f"{path} is missing") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DialoguePriorError(f"{path.name} is unreadable or corrupt ({exc})") from exc
    if labels != tuple(EKMAN_EMOTIONS) or lift.shape != (len(labels), len(labels)) or not np.all(np.isfinite(lift)) \
            or (lift <= 0).any() or not 0.05 <= temperature <= 20 or not 0 <= weight <= 5 \
            or (bias is not None and (bias.shape != (len(labels),) or not np.all(np.abs(bias) <= MAX_BIAS))):
        raise DialoguePriorError(f"{path.name} does not hold a prior for the 7 emotion classes")
    return DialoguePrior(lift=lift, temperature=temperature, weight=weight, labels=labels, bias=bias)
