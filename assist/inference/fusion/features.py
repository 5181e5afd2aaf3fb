"""Fusion inputs: one feature vector per modality token, built from the encoders' outputs (numpy only).

- text: the text model's pooled 384-d vector and its emotion / sentiment / intent logits;
- context: the same for each of the previous ``CONTEXT_TURNS`` turns (most recent first), plus a flag
  saying whether that turn came from the same speaker as the current one;
- voice: log-probabilities of the voice model's classes, arousal and loudness;
- screen: the text features of the screenshot's OCR text, plus flags for what the agent sees (a
  problem status such as Delayed / Declined / Failed, an error code, an amount, an order or ticket id).

A missing modality is a zero vector with its ``present`` flag at 0; the network masks it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

TEXT_VECTOR = 384
TEXT_LOGITS = (7, 3, 27)  # emotion, sentiment, intent
TEXT_DIM = TEXT_VECTOR + sum(TEXT_LOGITS)
CONTEXT_TURNS = 3
CONTEXT_DIM = TEXT_DIM + 1
VOICE_CLASSES = ("anger", "boredom", "disgust", "fear", "joy", "neutral", "sadness")
VOICE_DIM = len(VOICE_CLASSES) + 2
SCREEN_FLAGS = ("problem_status", "error_code", "amount", "reference_id")
SCREEN_DIM = TEXT_DIM + len(SCREEN_FLAGS)
PROBLEM_STATUSES = {"delayed", "declined", "failed", "cancelled", "canceled", "lost", "returned", "on hold",
                    "overdue", "rejected", "error", "suspended", "blocked", "expired", "past due", "refused"}
MODALITIES = ("text", "context", "voice", "screen")


def text_features(outputs: dict[str, np.ndarray]) -> np.ndarray:
    """(N, TEXT_DIM) from the text graph's outputs (``text_vector``, ``emotion``, ``sentiment``, ``intent``)."""
    parts = [outputs["text_vector"], outputs["emotion"], outputs["sentiment"], outputs["intent"]]
    return np.concatenate([np.asarray(p, dtype=np.float32).reshape(len(parts[0]), -1) for p in parts], axis=1)


def voice_features(voice_classes: dict[str, float], arousal: float, loudness: float) -> np.ndarray:
    probs = np.array([voice_classes.get(c, 0.0) for c in VOICE_CLASSES], dtype=np.float32)
    return np.concatenate([np.log(probs + 1e-4), [arousal, loudness]]).astype(np.float32)


def screen_flags(entities: Sequence[tuple[str, str]]) -> np.ndarray:
    """Flags from (kind, value) entity pairs as ``assist.inference.screen`` finds them."""
    kinds = {k for k, _ in entities}
    problem = any(k == "status" and v.lower() in PROBLEM_STATUSES for k, v in entities)
    ids = bool(kinds & {"order_id", "ticket_id", "account_id", "id"})
    return np.array([problem, "error_code" in kinds, "amount" in kinds, ids], dtype=np.float32)


@dataclass
class FusionInputs:
    """A batch of fusion inputs; build one row with ``FusionInputs.one(...)``."""

    text: np.ndarray  # (B, TEXT_DIM)
    text_present: np.ndarray  # (B,)
    context: np.ndarray  # (B, CONTEXT_TURNS, CONTEXT_DIM)
    context_present: np.ndarray  # (B, CONTEXT_TURNS)
    voice: np.ndarray  # (B, VOICE_DIM)
    voice_present: np.ndarray  # (B,)
    screen: np.ndarray  # (B, SCREEN_DIM)
    screen_present: np.ndarray  # (B,)
    names: ClassVar[tuple[str, ...]] = ("text", "text_present", "context", "context_present", "voice",
                                        "voice_present", "screen", "screen_present")

    @classmethod
    def empty(cls, batch: int) -> FusionInputs:
        z = np.zeros
        return cls(z((batch, TEXT_DIM), np.float32), z(batch, np.float32),
                   z((batch, CONTEXT_TURNS, CONTEXT_DIM), np.float32), z((batch, CONTEXT_TURNS), np.float32),
                   z((batch, VOICE_DIM), np.float32), z(batch, np.float32),
                   z((batch, SCREEN_DIM), np.float32), z(batch, np.float32))

    @classmethod
    def one(cls, text: np.ndarray | None = None, context: Sequence[tuple[np.ndarray, bool]] = (),
            voice: np.ndarray | None = None, screen: np.ndarray | None = None) -> FusionInputs:
        """One turn. ``context``: (text features, same speaker?) for previous turns, most recent first."""
        row = cls.empty(1)
        if text is not None:
            row.text[0], row.text_present[0] = text, 1
        for i, (features, same) in enumerate(list(context)[:CONTEXT_TURNS]):
            row.context[0, i, :TEXT_DIM], row.context[0, i, TEXT_DIM] = features, float(same)
            row.context_present[0, i] = 1
        if voice is not None:
            row.voice[0], row.voice_present[0] = voice, 1
        if screen is not None:
            row.screen[0], row.screen_present[0] = screen, 1
        return row

    def feeds(self) -> dict[str, np.ndarray]:
        return {n: np.ascontiguousarray(getattr(self, n), dtype=np.float32) for n in self.names}

    def present(self) -> dict[str, bool]:
        """Which modalities row 0 has."""
        return {"text": bool(self.text_present[0]), "context": bool(self.context_present[0].any()),
                "voice": bool(self.voice_present[0]), "screen": bool(self.screen_present[0])}

    def without(self, modality: str) -> FusionInputs:
        """A copy of row 0 with one modality masked out (for explanations)."""
        copy = FusionInputs(**{n: np.array(getattr(self, n)[:1]) for n in self.names})
        flags = {"text": copy.text_present, "context": copy.context_present, "voice": copy.voice_present,
                 "screen": copy.screen_present}
        flags[modality][...] = 0
        return copy

    @staticmethod
    def stack(rows: Sequence[FusionInputs]) -> FusionInputs:
        first = rows[0]
        return FusionInputs(**{n: np.concatenate([getattr(r, n) for r in rows]) for n in first.names})
