"""EmoDB (Berlin Database of Emotional Speech): file-name labels and the mapping to the app's emotions.

File names are ``SSTTTEV.wav``: speaker, text id, emotion letter, version. Nothing is copied: the
reader lists ``<data>/emodb/wav``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assist.domain import EKMAN_EMOTIONS

EMODB_LETTERS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "joy", "T": "sadness",
                 "N": "neutral"}
# the classes the voice model is trained on; boredom is kept (it is well separated in the voice) and
# reported to the app as neutral; EmoDB has no surprise, so the voice model never outputs it
VOICE_CLASSES: tuple[str, ...] = ("anger", "boredom", "disgust", "fear", "joy", "neutral", "sadness")
TO_APP = {"boredom": "neutral"}


@dataclass(frozen=True)
class EmoDBClip:
    path: Path
    speaker: str
    text_id: str
    emotion: str  # one of VOICE_CLASSES

    @property
    def app_emotion(self) -> str:
        return TO_APP.get(self.emotion, self.emotion)


def parse_name(name: str) -> tuple[str, str, str] | None:
    """(speaker, text id, emotion) from ``SSTTTEV.wav``, or None if the name does not follow it."""
    stem = Path(name).stem
    if len(stem) < 6 or stem[5] not in EMODB_LETTERS or not stem[:2].isdigit():
        return None
    return stem[:2], stem[2:5], EMODB_LETTERS[stem[5]]


def load_emodb(data_dir: Path) -> list[EmoDBClip]:
    """All clips under ``<data_dir>/emodb/wav`` (or ``data_dir`` itself if it holds the WAVs), sorted."""
    folder = data_dir / "emodb" / "wav"
    if not folder.is_dir():
        folder = data_dir
    clips = []
    for path in sorted(folder.glob("*.wav")):
        parsed = parse_name(path.name)
        if parsed:
            clips.append(EmoDBClip(path, *parsed))
    if not clips:
        raise FileNotFoundError(f"No EmoDB WAV files (SSTTTEV.wav) in {folder} (pass --data DIR pointing at "
                                "shared/data)")
    return clips


def to_app_distribution(probabilities: dict[str, float]) -> dict[str, float]:
    """Voice-class probabilities -> the app's 7 Ekman classes (boredom adds to neutral, surprise 0)."""
    out = dict.fromkeys(EKMAN_EMOTIONS, 0.0)
    for name, p in probabilities.items():
        out[TO_APP.get(name, name)] += float(p)
    return out
