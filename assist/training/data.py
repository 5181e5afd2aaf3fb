"""Readers for the shared data sets (GoEmotions, MELD, Bitext, DailyDialog, airline tweets, user satisfaction),
labels mapped to ours.

Nothing here copies data into the repository: every reader takes the data folder
(``../shared/data`` by default, or ``--data``).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS
from assist.inference.labels import INTENTS, canonical_intent
from assist.inference.text_model import join_context
from assist.paths import shared_data_dir

GOEMOTIONS_GROUP_TO_SENTIMENT = {"negative": "negative", "neutral": "neutral", "positive": "positive"}
BITEXT_FILE = "bitext/TrainingdatasetBitextsample.csv"
SPLIT_SEED = 13


@dataclass
class TextExample:
    text: str
    source: str
    emotions: tuple[int, ...] = ()  # gold Ekman ids (several for multi-label GoEmotions)
    sentiment: int | None = None
    intent: int | None = None
    dialogue: str = ""  # MELD dialogue id, for context and grouped splits
    context: str = ""  # previous turns, most recent first ("" = none)
    speaker: str = ""  # MELD speaker name (conversation context: same or other speaker)
    soft_emotions: tuple[float, ...] = ()  # a teacher model's 7 emotion probabilities (distillation), if any


def default_data_dir() -> Path:
    """``$ASSIST_DATA`` or ``../shared/data`` beside the checkout (or the cwd)."""
    return shared_data_dir()


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"Data file not found: {path} (pass --data DIR pointing at shared/data)")
    return path


def load_goemotions(data_dir: Path, split: str) -> list[TextExample]:
    ekman_labels = (data_dir / "goemotions/ekman/labels.txt").read_text().split()
    group_labels = (data_dir / "goemotions/group/labels.txt").read_text().split()
    assert tuple(ekman_labels) == EKMAN_EMOTIONS, ekman_labels
    groups: dict[str, str] = {}
    with _require(data_dir / f"goemotions/group/{split}.tsv").open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            ids = [group_labels[int(i)] for i in row[1].split(",")]
            polar = {GOEMOTIONS_GROUP_TO_SENTIMENT[g] for g in ids if g in GOEMOTIONS_GROUP_TO_SENTIMENT}
            if len(polar) == 1:
                groups[row[2]] = polar.pop()
    examples = []
    with _require(data_dir / f"goemotions/ekman/{split}.tsv").open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            text, ids, comment_id = row[0], row[1], row[2]
            sentiment = groups.get(comment_id)
            examples.append(
                TextExample(
                    text=text,
                    source="goemotions",
                    emotions=tuple(sorted({int(i) for i in ids.split(",")})),
                    sentiment=SENTIMENTS.index(sentiment) if sentiment else None,
                )
            )
    return examples


def clean_meld(text: str) -> str:
    return (
        text.replace("\x92", "'").replace("\x91", "'").replace("\x93", '"').replace("\x94", '"')
        .replace("\x85", "...").replace("\x97", "-").replace("’", "'").replace("‘", "'")
        .replace("“", '"').replace("”", '"').replace("…", "...").replace("—", "-").strip()
    )


CONTEXT_TURNS = 2


def load_meld(data_dir: Path, split: str, context_turns: int = CONTEXT_TURNS) -> list[TextExample]:
    """MELD utterances; each carries the previous ``context_turns`` utterances of its dialogue."""
    path = _require(data_dir / f"meld/{split}_sent_emo.csv")
    examples = []
    history: dict[str, list[tuple[int, str]]] = defaultdict(list)
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in sorted(rows, key=lambda r: (int(r["Dialogue_ID"]), int(r["Utterance_ID"]))):
        dialogue = f"{split}-{row['Dialogue_ID']}"
        text = clean_meld(row["Utterance"])
        previous = [t for _, t in history[dialogue]]
        examples.append(
            TextExample(
                text=text,
                source="meld",
                emotions=(EKMAN_EMOTIONS.index(row["Emotion"].strip()),),
                sentiment=SENTIMENTS.index(row["Sentiment"].strip()),
                dialogue=dialogue,
                context=join_context(previous, context_turns),
                speaker=row.get("Speaker", "").strip(),
            )
        )
        history[dialogue].append((int(row["Utterance_ID"]), text))
    return examples


def split_meld_train(examples: list[TextExample], valid_fraction: float = 0.08) -> tuple[list, list]:
    """Hold out whole dialogues of MELD train for model selection (MELD dev stays unseen)."""
    dialogues = sorted({e.dialogue for e in examples})
    rng = random.Random(SPLIT_SEED)
    rng.shuffle(dialogues)
    held = set(dialogues[: int(len(dialogues) * valid_fraction)])
    return [e for e in examples if e.dialogue not in held], [e for e in examples if e.dialogue in held]


def load_bitext(data_dir: Path) -> dict[str, list[TextExample]]:
    """Bitext split 80/10/10, stratified by intent, with a fixed seed."""
    by_intent: dict[str, list[TextExample]] = defaultdict(list)
    with _require(data_dir / BITEXT_FILE).open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            intent = canonical_intent(row["intent"])
            by_intent[intent].append(
                TextExample(text=row["utterance"].strip(), source="bitext", intent=INTENTS.index(intent))
            )
    rng = random.Random(SPLIT_SEED)
    splits: dict[str, list[TextExample]] = {"train": [], "dev": [], "test": []}
    for intent in sorted(by_intent):
        items = by_intent[intent]
        rng.shuffle(items)
        n_test = max(1, round(len(items) * 0.1))
        n_dev = max(1, round(len(items) * 0.1))
        splits["test"] += items[:n_test]
        splits["dev"] += items[n_test : n_test + n_dev]
        splits["train"] += items[n_test + n_dev :]
    return splits


def meld_fold_of(dialogue: str, folds: int) -> int:
    """Fold of a MELD dialogue ("train-123") for out-of-fold training: its number modulo ``folds``."""
    return int(dialogue.rsplit("-", 1)[1]) % folds


DAILYDIALOG_FILE = "dailydialog/dialogues_train_validation.jsonl.gz"
DAILYDIALOG_EMOTIONS = {"no emotion": "neutral", "happiness": "joy", "surprise": "surprise", "sadness": "sadness",
                        "anger": "anger", "disgust": "disgust", "fear": "fear"}


def load_dailydialog(data_dir: Path, split: str, context_turns: int = CONTEXT_TURNS) -> list[TextExample]:
    """DailyDialog turns of one split ("train" or "validation"), each with the previous ``context_turns`` turns of
    its dialogue (most recent first) and its speaker; emotions mapped to Ekman (no emotion -> neutral, happiness ->
    joy)."""
    examples = []
    with gzip.open(_require(data_dir / DAILYDIALOG_FILE), "rt", encoding="utf-8") as fh:
        for line in fh:
            dialogue = json.loads(line)
            if dialogue["split"] != split:
                continue
            previous: list[str] = []
            for turn in dialogue["turns"]:
                text = " ".join(turn["utterance"].split())
                emotion = EKMAN_EMOTIONS.index(DAILYDIALOG_EMOTIONS[turn["emotion"]])
                examples.append(TextExample(text=text, source="dailydialog", emotions=(emotion,),
                                            dialogue=dialogue["dialogue_id"], speaker=turn["speaker"],
                                            context=join_context(previous, context_turns)))
                previous.append(text)
    return examples


AIRLINE_FILE = "twitter_airline/tweets_train.csv"
AIRLINE_HELD_OUT = 0.10


def airline_split_of(text: str) -> str:
    """"held" for a fixed 10% of the airline tweets (by a hash of the text: stable across runs and machines),
    else "train". The held-out part is never trained on; it is where airline sentiment is reported."""
    digest = int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16)
    return "held" if digest % 1000 < AIRLINE_HELD_OUT * 1000 else "train"


def load_airline(data_dir: Path, split: str) -> list[TextExample]:
    """Customers' tweets to airlines with their sentiment: "train" (90%) or "held" (10%, see ``airline_split_of``).
    The leading @mentions are dropped (they name the airline, not the feeling); a held-out tweet whose words also
    occur in the training part (the same message sent to two airlines) is left out of "held"."""
    rows = {"train": [], "held": []}
    with _require(data_dir / AIRLINE_FILE).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = " ".join(w for w in row["text"].split() if not w.startswith("@")) or row["text"].strip()
            rows[airline_split_of(row["text"])].append(
                TextExample(text=text, source="airline", sentiment=SENTIMENTS.index(row["airline_sentiment"].strip())))
    if split == "held":
        trained = {e.text for e in rows["train"]}
        return [e for e in rows["held"] if e.text not in trained]
    return rows[split]


SATISFACTION_FILES = ("satisfaction/MWOZ.txt.gz", "satisfaction/SGD.txt.gz")


def load_satisfaction(data_dir: Path) -> list[TextExample]:
    """User turns of task dialogues rated 1-5 for satisfaction: a rated-dissatisfied turn (mean <= 2) is negative,
    a rated-satisfied one (mean >= 4) positive, others neutral; dialogues are kept whole (``dialogue``)."""
    examples = []
    for name in SATISFACTION_FILES:
        with gzip.open(_require(data_dir / name), "rt", encoding="utf-8", errors="replace") as fh:
            dialogue, previous = 0, []
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 2 or not line.strip():
                    dialogue, previous = dialogue + 1, []
                    continue
                speaker, text = parts[0], " ".join(parts[1].split())
                if speaker == "USER" and len(parts) >= 4 and parts[3].strip():
                    ratings = [int(r) for r in parts[3].split(",") if r.strip().isdigit()]
                    if ratings:
                        mean = sum(ratings) / len(ratings)
                        label = "negative" if mean <= 2 else "positive" if mean >= 4 else "neutral"
                        examples.append(TextExample(text=text, source="satisfaction",
                                                    sentiment=SENTIMENTS.index(label),
                                                    dialogue=f"{name}-{dialogue}",
                                                    context=join_context(previous, CONTEXT_TURNS)))
                if speaker in ("USER", "SYSTEM"):
                    previous.append(text)
    return examples
