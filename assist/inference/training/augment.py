"""Intent augmentation: customers wrap requests in frustration or politeness; Bitext rarely does.

A share of the Bitext training utterances get a framing phrase before and/or after (phrases written
for Assist); the intent label is unchanged, so the model learns to read the request, not the tone.
"""

from __future__ import annotations

import random
from dataclasses import replace

from assist.inference.training.data import TextExample

PREFIXES = (
    "This is the third time I'm asking.", "I'm really frustrated.", "Honestly this is ridiculous.", "Hi,",
    "Hello there,", "Ugh.", "I've been waiting for days.", "Nobody has helped me so far.", "Listen,",
    "Seriously,", "Good morning,", "I'm so disappointed.", "This is the worst service ever.", "Hey,",
)
SUFFIXES = (
    "NOW.", "right now!", "This is unacceptable.", "Thanks.", "Please help.", "ASAP!!", "I'm so annoyed.",
    "Thank you so much!", "I'm not happy about this.", "It's urgent.", "Fix it today.", "Cheers.",
)


def augment_intents(examples: list[TextExample], rng: random.Random, fraction: float) -> list[TextExample]:
    """New framed copies of ``fraction`` of the intent examples."""
    chosen = [e for e in examples if e.intent is not None and rng.random() < fraction]
    out = []
    for e in chosen:
        text = e.text
        style = rng.random()
        if style < 0.4:
            text = f"{rng.choice(PREFIXES)} {text}"
        elif style < 0.8:
            text = f"{text} {rng.choice(SUFFIXES)}"
        else:
            text = f"{rng.choice(PREFIXES)} {text} {rng.choice(SUFFIXES)}"
        if rng.random() < 0.1:
            text = text.upper()
        out.append(replace(e, text=text, source="bitext-augmented"))
    return out
