"""The conversation's intent: what the customer wants done by the end of the conversation, not only in this turn.

Each customer turn's intent distribution (the text model's) is evidence. It accumulates with a decay, each turn
weighted by how sure the model is of it, so a turn that only gives a detail ("it's the one I updated yesterday")
barely moves the conversation's intent; an explicit new request — a turn whose own top intent differs from the
conversation's and that the model is sure of (``switch`` or more) — starts the evidence afresh. The parameters were
chosen on the tuning part of the development set (``resources/eval``); the model card gives the figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assist.domain import LabelEstimate

DECAY = 0.85
SWITCH = 0.9


@dataclass
class ConversationIntent:
    """Accumulates the customer turns' intent distributions (``update``, one call per customer turn)."""

    decay: float = DECAY
    switch: float = SWITCH
    scores: dict[str, float] = field(default_factory=dict)

    def reset(self) -> None:
        self.scores = {}

    def update(self, turn: dict[str, float]) -> LabelEstimate:
        """The conversation's intent after this turn's distribution."""
        if not turn:
            return self.current()
        top = max(turn, key=turn.__getitem__)
        sure = turn[top]
        if not self.scores or (top != self._top() and sure >= self.switch):
            self.scores = dict(turn)
        else:
            self.scores = {k: self.decay * self.scores.get(k, 0.0) + sure * p for k, p in turn.items()}
        return self.current()

    def _top(self) -> str:
        return max(self.scores, key=self.scores.__getitem__)

    def current(self) -> LabelEstimate:
        total = sum(self.scores.values()) or 1.0
        probabilities = {k: v / total for k, v in self.scores.items()}
        label = max(probabilities, key=probabilities.__getitem__) if probabilities else ""
        return LabelEstimate(label=label, confidence=round(probabilities.get(label, 0.0), 4),
                             probabilities=probabilities)


__all__ = ["DECAY", "SWITCH", "ConversationIntent"]
