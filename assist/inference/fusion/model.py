"""The fusion model at run time: the exported graph on onnxruntime, with per-modality explanations.

``FusionModel.estimate(inputs)`` returns calibrated distributions for emotion, sentiment and intent,
the escalation probability, and how much each present modality moved the top emotion and the top
intent: the graph is run once more per present modality with that modality masked out (all rows in
one batch), and a modality's contribution is the drop in the top class's probability without it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS
from assist.inference.errors import BadInput, ModelUnavailable
from assist.inference.fusion.features import MODALITIES, FusionInputs
from assist.inference.labels import INTENTS
from assist.inference.runtime import make_session
from assist.paths import model_dir

CONFIG_FILE = "config.json"
ONNX_FILE = "fusion.onnx"
OUTPUTS = ("emotion", "sentiment", "intent", "escalation")


def default_model_dir() -> Path:
    return model_dir("fusion")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class FusedEstimate:
    emotion: dict[str, float]
    sentiment: dict[str, float]
    intent: dict[str, float]
    escalation: float  # probability that the turn is a medium or high escalation risk
    modalities: tuple[str, ...]  # the modalities this estimate used
    contributions: dict[str, dict[str, float]]  # head -> modality -> drop of the top class without it
    provider: str
    elapsed_ms: float

    def top(self, head: str) -> str:
        distribution: dict[str, float] = getattr(self, head)
        return max(distribution, key=distribution.__getitem__)

    def explanation(self) -> str:
        """One line for a person: which modality drove the emotion estimate."""
        emo = self.contributions.get("emotion", {})
        if not emo:
            return f"emotion from {', '.join(self.modalities) or 'nothing'}"
        driver = max(emo, key=emo.__getitem__)
        return f"{self.top('emotion')} driven mostly by {driver} (" + ", ".join(
            f"{m} {v:+.2f}" for m, v in sorted(emo.items(), key=lambda kv: -kv[1])) + ")"


class FusionModel:
    def __init__(self, model_dir: str | Path | None = None, threads: int = 1, prefer_gpu: bool = True) -> None:
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        path = self.model_dir / CONFIG_FILE
        if not path.is_file():
            raise ModelUnavailable(f"The fusion model is missing: {path} not found. Run 'assist train fusion'.")
        try:
            self.config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"The fusion model config {path} is unreadable or corrupt: {exc}") from exc
        self.version = str(self.config.get("version", "unknown"))
        onnx_path = self.model_dir / self.config.get("onnx", ONNX_FILE)
        self.session = make_session(onnx_path, "fusion model", threads, prefer_gpu)
        self.provider = self.session.get_providers()[0]

    def run(self, inputs: FusionInputs) -> dict[str, np.ndarray]:
        """Raw calibrated logits for a batch."""
        feeds = inputs.feeds()
        if not all(np.isfinite(v).all() for v in feeds.values()):
            raise BadInput("The fusion inputs contain NaN or infinite values.")
        return dict(zip(OUTPUTS, self.session.run(list(OUTPUTS), feeds)))

    def estimate(self, inputs: FusionInputs, explain: bool = True) -> FusedEstimate:
        """One turn (row 0 of ``inputs``)."""
        began = time.perf_counter()
        present = [m for m, ok in inputs.present().items() if ok]
        if not present:
            raise BadInput("Nothing to analyse: no text, context, voice or screen for this turn.")
        ablations = present if explain and len(present) > 1 else []
        rows = FusionInputs.stack([_first(inputs)] + [inputs.without(m) for m in ablations])
        out = self.run(rows)
        probs = {h: _softmax(out[h]) for h in ("emotion", "sentiment", "intent")}
        contributions: dict[str, dict[str, float]] = {}
        for head in ("emotion", "intent"):
            top = int(probs[head][0].argmax())
            contributions[head] = {m: round(float(probs[head][0, top] - probs[head][i + 1, top]), 4)
                                   for i, m in enumerate(ablations)}
        if len(present) == 1:
            contributions = {"emotion": {present[0]: 1.0}, "intent": {present[0]: 1.0}}
        escalation = float(1 / (1 + np.exp(-out["escalation"][0, 0])))
        return FusedEstimate(
            emotion=dict(zip(EKMAN_EMOTIONS, map(float, probs["emotion"][0]))),
            sentiment=dict(zip(SENTIMENTS, map(float, probs["sentiment"][0]))),
            intent=dict(zip(INTENTS, map(float, probs["intent"][0]))),
            escalation=escalation,
            modalities=tuple(m for m in MODALITIES if m in present),
            contributions=contributions,
            provider=self.provider,
            elapsed_ms=(time.perf_counter() - began) * 1000,
        )


def _first(inputs: FusionInputs) -> FusionInputs:
    return FusionInputs(**{n: np.array(getattr(inputs, n)[:1]) for n in inputs.names})
