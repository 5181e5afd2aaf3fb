"""A teacher's soft labels for distillation: ``teacher_probs.json`` (written by ``assist train teacher``, read by
``assist train text --set teacher=FILE``), keyed by a hash of each text so the file holds no data-set text."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from assist.domain import EKMAN_EMOTIONS
from assist.training.data import TextExample

TEACHER_PROBS = "teacher_probs.json"


def text_key(text: str) -> str:
    """How ``teacher_probs.json`` names a text: a hash, so the file holds no data-set text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def load_teacher_probs(path: Path) -> dict[str, tuple[float, ...]]:
    """text key (``text_key``) -> the teacher's 7 emotion probabilities (``teacher_probs.json``)."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        labels, probs = tuple(payload["about"]["labels"]), payload["probs"]
        table = {str(t): tuple(float(x) for x in p) for t, p in probs.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a teacher_probs.json written by 'assist train teacher' ({exc})") from exc
    if labels != EKMAN_EMOTIONS:
        raise ValueError(f"{path}: labels differ from ours")
    if any(len(p) != len(EKMAN_EMOTIONS) for p in table.values()):
        raise ValueError(f"{path}: every text needs {len(EKMAN_EMOTIONS)} probabilities")
    return table


def attach_teacher(examples: list[TextExample], path: str) -> int:
    """Give MELD and GoEmotions examples the teacher's probabilities for their text; returns how many got one."""
    probs = load_teacher_probs(Path(path))
    hits = 0
    for i, e in enumerate(examples):
        soft = probs.get(text_key(e.text)) if e.source in ("meld", "goemotions") else None
        if soft is not None:
            examples[i] = replace(e, soft_emotions=soft)
            hits += 1
    return hits


__all__ = ["TEACHER_PROBS", "attach_teacher", "load_teacher_probs", "text_key"]
