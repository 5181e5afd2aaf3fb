"""The text model's probabilities for many texts at once, per task (what every text evaluation scores)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS, ProgressState
from assist.inference.labels import INTENTS
from assist.inference.text_model import TextModel

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


__all__ = ["TASK_LABELS", "predict"]
