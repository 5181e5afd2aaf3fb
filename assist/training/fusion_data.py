"""Fusion training pools: encoder features of the shared data, cached, with labels (see train_fusion)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS, ProgressState
from assist.inference.escalation import escalation_risk
from assist.inference.fusion.features import (
    CONTEXT_TURNS,
    TEXT_DIM,
    VOICE_CLASSES,
    FusionInputs,
    screen_flags,
    voice_features,
)
from assist.inference.labels import INTENTS
from assist.inference.voice.model import AROUSAL
from assist.training.data import (
    TextExample,
    load_bitext,
    load_goemotions,
    load_meld,
    split_meld_train,
)

HELD_OUT_SPEAKERS = ("15", "16")
STATUS_BY_INTENT = {
    "track_order": ["Delayed", "In transit", "On hold"], "delivery_period": ["Delayed", "Processing"],
    "payment_issue": ["Declined", "Failed", "ERR_PAYMENT_DECLINED"], "get_refund": ["Refund pending", "Returned"],
    "track_refund": ["Refund pending", "Processing"], "cancel_order": ["Cancelled", "Processing"],
    "recover_password": ["Locked", "Suspended"], "registration_problems": ["Error", "Failed"],
    "complaint": ["Delayed", "Lost", "Damaged"], "check_invoice": ["Overdue", "Paid"],
}
OTHER_STATUSES = ["Delivered", "Shipped", "Active", "Paid", "Completed", "Processing"]


@dataclass
class FusionTrainOptions:
    seed: int = 7
    epochs: int = 8
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.01
    dim: int = 128
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    input_dropout: float = 0.2
    modality_dropout: float = 0.25  # each present modality of a multi-modal row, never all of them
    context_dropout: float = 0.5  # all context of a MELD row (so the model works from the first turn)
    goemotions_limit: int = 8000
    goemotions_split: str = "train"  # "dev": rows the text model never trained on
    oof_logits_only: bool = False
    oof_text: str = ""  # "DIR0,DIR1": text models trained without MELD train fold 0 / 1 (train text --set meld_folds=2)
    bitext_limit: int = 6000
    pairs: int = 4000
    mismatched_pairs: float = 0.3  # share of text + voice pairs whose emotions differ (soft target)
    intent_pairs: int = 2000
    context_intent: int = 3000  # Bitext messages given MELD turns as context (intent only)
    screen_emotion: int = 3000  # MELD / GoEmotions messages with a random console page (emotion, sentiment)
    screens: int = 3000
    threads: int = 2


def cache_dir() -> Path:
    from assist.paths import user_cache_dir

    return user_cache_dir() / "fusion"


class TextFeaturizer:
    """Text features from the shipped ONNX text model, cached on disk by (model sha256, text)."""

    def __init__(self, threads: int = 2, model_dir: Path | None = None) -> None:
        from assist.inference.text_onnx import OnnxTextModel

        self.model = OnnxTextModel(model_dir, device="cpu", threads=threads)
        self.sha = self.model.weights_sha256()[:16]
        self.path = cache_dir() / f"text-{self.sha}.npz"
        self.cache: dict[str, np.ndarray] = {}
        if self.path.is_file():
            try:
                data = np.load(self.path, allow_pickle=False)
                self.cache = dict(zip(data["keys"].tolist(), data["values"]))
            except (OSError, ValueError, KeyError):  # a damaged cache is rebuilt
                self.cache = {}

    def __call__(self, texts: list[str], state: ProgressState | None = None, what: str = "text features") -> np.ndarray:
        from assist.inference.fusion.features import text_features
        from assist.inference.text_model import prepare_text

        missing = [t for t in dict.fromkeys(texts) if _key(t) not in self.cache]
        for i, text in enumerate(missing):
            try:
                out = self.model.run([prepare_text(text)])
            except Exception:  # noqa: BLE001 - empty after cleaning: "." stands in
                out = self.model.run(["."])
            self.cache[_key(text)] = text_features(out)[0]
            if state is not None and i % 200 == 0:
                state.set_progress(i / max(1, len(missing)), f"{what} {i}/{len(missing)}")
        if missing:
            self.save()
        return np.stack([self.cache[_key(t)] for t in texts]) if texts else np.zeros((0, TEXT_DIM), np.float32)

    def save(self) -> None:
        import os

        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.cache)
        partial = self.path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(partial, keys=np.array(keys), values=np.stack([self.cache[k] for k in keys]))
        os.replace(partial, self.path)  # atomic: a concurrent run never reads half a file


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


def voice_oof_features(data_dir: Path, state: ProgressState) -> tuple[np.ndarray, list[Any]]:
    """EmoDB clips' voice features, each from a voice model trained without that clip's speaker."""
    from assist.inference.voice.emodb import VOICE_CLASSES as TRAINED
    from assist.inference.voice.emodb import load_emodb
    from assist.training.train_voice import (
        VoiceTrainOptions,
        augmented_vectors,
        extract_all,
        fit_net,
        predict,
    )

    assert tuple(TRAINED) == VOICE_CLASSES
    clips = load_emodb(data_dir)
    path = cache_dir() / "voice-oof.npz"
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        if data["names"].tolist() == [c.path.name for c in clips]:
            return data["features"], clips
    opts = VoiceTrainOptions()
    feats = extract_all(clips, state, (0.0, 0.2))
    x = np.stack([f.vector for f in feats])
    augmented = augmented_vectors(feats, opts)
    y = np.array([VOICE_CLASSES.index(c.emotion) for c in clips])
    speakers = np.array([c.speaker for c in clips])
    out = np.zeros((len(clips), len(VOICE_CLASSES) + 2), np.float32)
    for k, speaker in enumerate(sorted(set(speakers))):
        train = speakers != speaker
        net = fit_net(np.concatenate([x[train], *augmented[:, train]]), np.tile(y[train], opts.augment_copies + 1),
                      opts, state, (0.2 + 0.8 * k / 8, 0.2 + 0.8 * (k + 1) / 8))
        probs = predict(net, x[~train])
        for row, i in enumerate(np.flatnonzero(~train)):
            voice = dict(zip(VOICE_CLASSES, map(float, probs[row])))
            arousal = sum(p * AROUSAL[c] for c, p in voice.items())
            out[i] = voice_features(voice, arousal, feats[i].loudness)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, names=np.array([c.path.name for c in clips]), features=out)
    return out, clips


@dataclass
class Pool:
    inputs: FusionInputs
    emotion: np.ndarray
    sentiment: np.ndarray
    intent: np.ndarray
    escalation: np.ndarray
    source: np.ndarray
    emotion_target: np.ndarray | None = None  # (N, 7) soft targets; None = one-hot of ``emotion``

    def targets(self) -> np.ndarray:
        if self.emotion_target is not None:
            return self.emotion_target
        out = np.zeros((len(self.emotion), len(EKMAN_EMOTIONS)), np.float32)
        known = self.emotion >= 0
        out[np.flatnonzero(known), self.emotion[known]] = 1.0
        return out

    @staticmethod
    def concat(pools: list[Pool]) -> Pool:
        return Pool(FusionInputs.stack([p.inputs for p in pools]),
                    *(np.concatenate([getattr(p, f) for p in pools]) for f in ("emotion", "sentiment", "intent",
                                                                               "escalation", "source")),
                    emotion_target=np.concatenate([p.targets() for p in pools]))

    def __len__(self) -> int:
        return len(self.emotion)


def _labels(examples: list[TextExample], n: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    emo = np.array([e.emotions[0] if len(e.emotions) == 1 else -1 for e in examples], dtype=np.int64)
    sent = np.array([-1 if e.sentiment is None else e.sentiment for e in examples], dtype=np.int64)
    intent = np.array([-1 if e.intent is None else e.intent for e in examples], dtype=np.int64)
    return emo, sent, intent


def _distribution(labels: tuple[str, ...], gold: int, logits: np.ndarray) -> dict[str, float]:
    if gold >= 0:
        return {name: float(i == gold) for i, name in enumerate(labels)}
    p = np.exp(logits - logits.max())
    p /= p.sum()
    return dict(zip(labels, map(float, p)))


def weak_escalation(texts: list[str], features: np.ndarray, emo: np.ndarray, sent: np.ndarray,
                    intent: np.ndarray) -> np.ndarray:
    """1 when the documented rule rates the turn medium or high (gold labels where known), else 0."""
    out = np.zeros(len(texts), np.float32)
    for i, text in enumerate(texts):
        f = features[i]
        risk = escalation_risk(text, _distribution(EKMAN_EMOTIONS, int(emo[i]), f[384:391]),
                               _distribution(SENTIMENTS, int(sent[i]), f[391:394]),
                               _distribution(INTENTS, int(intent[i]), f[394:421]))
        out[i] = float(risk.level.value in ("medium", "high"))
    return out


def text_pool(examples: list[TextExample], feats: np.ndarray, source: int,
              context: tuple[np.ndarray, np.ndarray] | None = None) -> Pool:
    inputs = FusionInputs.empty(len(examples))
    inputs.text[:], inputs.text_present[:] = feats, 1
    if context is not None:
        inputs.context[:], inputs.context_present[:] = context
    emo, sent, intent = _labels(examples)
    esc = weak_escalation([e.text for e in examples], feats, emo, sent, intent)
    return Pool(inputs, emo, sent, intent, esc, np.full(len(examples), source))


def meld_context(examples: list[TextExample], feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Previous turns of each MELD utterance (same dialogue, most recent first) and same-speaker flags."""
    ctx = np.zeros((len(examples), CONTEXT_TURNS, TEXT_DIM + 1), np.float32)
    present = np.zeros((len(examples), CONTEXT_TURNS), np.float32)
    for i, e in enumerate(examples):
        k, j = 0, i - 1
        while k < CONTEXT_TURNS and j >= 0 and examples[j].dialogue == e.dialogue:
            ctx[i, k, :TEXT_DIM], ctx[i, k, TEXT_DIM] = feats[j], float(examples[j].speaker == e.speaker)
            present[i, k] = 1
            k, j = k + 1, j - 1
    return ctx, present


SOURCES = ("meld", "goemotions", "bitext", "emodb", "pair", "screen")
TRAIN_POOLS = ("meld_train", "goemotions", "bitext", "emodb", "pairs", "intent_pairs", "intent_context", "screens",
               "screen_emotion")


def screen_text(rng: random.Random, intent: str, chat: str) -> tuple[str, np.ndarray]:
    from assist.inference.screen.entities import extract_entities

    status = rng.choice(STATUS_BY_INTENT.get(intent, OTHER_STATUSES) if rng.random() < 0.8 else OTHER_STATUSES)
    lines = ["Support Console - Order Details", f"Order: #A{rng.randint(10000, 99999)}", f"Status: {status}",
             f"Total: ${rng.randint(5, 400)}.{rng.randint(0, 99):02d}", "Conversation", chat]
    if rng.random() < 0.3:
        lines.insert(3, f"Error {rng.choice(['504', 'E1023', 'ERR_TIMEOUT'])}")
    entities = [(e.kind, e.value) for e in extract_entities(lines)]
    return " ".join(lines), screen_flags(entities)


def out_of_fold_features(examples: list[TextExample], feats: np.ndarray, opts: FusionTrainOptions,
                         state: ProgressState) -> np.ndarray:
    """MELD train features from text models that did not train on each row's fold (``oof_text``: fold dirs)."""
    from assist.training.data import meld_fold_of

    dirs = [Path(d) for d in opts.oof_text.split(",") if d]
    out = np.array(feats)
    for fold, model_dir in enumerate(dirs):
        rows = [i for i, e in enumerate(examples) if meld_fold_of(e.dialogue, len(dirs)) == fold]
        oof = TextFeaturizer(opts.threads, model_dir)([examples[i].text for i in rows], state, f"MELD fold {fold}")
        if opts.oof_logits_only:  # keep the shipped model's vector space; take only the fold model's logits
            out[rows, 384:] = oof[:, 384:]
        else:
            out[rows] = oof
    return out


def build_pools(data_dir: Path, opts: FusionTrainOptions, state: ProgressState) -> dict[str, Any]:
    rng = random.Random(opts.seed)
    featurize = TextFeaturizer(opts.threads)
    sub = lambda a, b: ProgressState(lambda f, m: state.set_progress(a + (b - a) * f, m))  # noqa: E731
    meld_train, meld_held = split_meld_train(load_meld(data_dir, "train", 0))
    meld_dev = load_meld(data_dir, "dev", 0)
    pools: dict[str, Any] = {}
    for name, examples in (("meld_train", meld_train), ("meld_held", meld_held), ("meld_dev", meld_dev)):
        feats = featurize([e.text for e in examples], sub(0.0, 0.15), f"MELD {name}")
        if name == "meld_train" and opts.oof_text:
            feats = out_of_fold_features(examples, feats, opts, sub(0.0, 0.15))
        pools[name] = text_pool(examples, feats, 0, meld_context(examples, feats))
    goemo = [e for e in load_goemotions(data_dir, opts.goemotions_split) if len(e.emotions) == 1]
    goemo = rng.sample(goemo, min(opts.goemotions_limit, len(goemo)))
    pools["goemotions"] = text_pool(goemo, featurize([e.text for e in goemo], sub(0.15, 0.3), "GoEmotions"), 1)
    goemo_test = load_goemotions(data_dir, "test")
    pools["goemotions_test"] = text_pool(goemo_test, featurize([e.text for e in goemo_test], sub(0.3, 0.4),
                                                               "GoEmotions test"), 1)
    pools["goemotions_test_gold"] = [e.emotions for e in goemo_test]
    bitext = load_bitext(data_dir)
    btrain = rng.sample(bitext["train"], min(opts.bitext_limit, len(bitext["train"])))
    pools["bitext"] = text_pool(btrain, featurize([e.text for e in btrain], sub(0.4, 0.5), "Bitext"), 2)
    for split in ("dev", "test"):
        ex = bitext[split]
        pools[f"bitext_{split}"] = text_pool(ex, featurize([e.text for e in ex], sub(0.5, 0.55), f"Bitext {split}"), 2)

    # voice: EmoDB, out-of-fold features
    voice, clips = voice_oof_features(data_dir, sub(0.55, 0.8))
    app = np.array([EKMAN_EMOTIONS.index(c.app_emotion) for c in clips])
    held = np.array([c.speaker in HELD_OUT_SPEAKERS for c in clips])
    for name, rows in (("emodb", ~held), ("emodb_held", held)):
        idx = np.flatnonzero(rows)
        inputs = FusionInputs.empty(len(idx))
        inputs.voice[:], inputs.voice_present[:] = voice[idx], 1
        pools[name] = Pool(inputs, app[idx], np.full(len(idx), -1), np.full(len(idx), -1),
                           np.full(len(idx), -1.0, np.float32), np.full(len(idx), 3))

    # text + voice pairs from training speakers and MELD train / GoEmotions texts: mostly label-matched;
    # some disagree (target: half each: when words and voice differ, neither wins outright)
    texts = Pool.concat([pools["meld_train"], pools["goemotions"]])
    by_emotion = {e: list(np.flatnonzero(texts.emotion == e)) for e in range(len(EKMAN_EMOTIONS))}
    train_clips = list(np.flatnonzero(~held))
    pair_rows, targets = [], []
    for _ in range(opts.pairs):
        clip = int(rng.choice(train_clips))
        voice_label = int(app[clip])
        text_label = voice_label
        if rng.random() < opts.mismatched_pairs:
            text_label = rng.choice([e for e in by_emotion if e != voice_label and by_emotion[e]])
        pair_rows.append((clip, int(rng.choice(by_emotion[text_label]))))
        target = np.zeros(len(EKMAN_EMOTIONS), np.float32)
        target[voice_label] += 0.5
        target[text_label] += 0.5
        targets.append(target)
    pools["pairs"] = _pairs(texts, voice, app, pair_rows, drop_context=False)
    pools["pairs"].emotion_target = np.stack(targets)
    # Bitext messages with any training clip: the voice must not change the intent
    bt_pool = pools["bitext"]
    intent_rows = [(int(rng.choice(train_clips)), int(rng.randrange(len(bt_pool)))) for _ in range(opts.intent_pairs)]
    intent_pairs = _pairs(bt_pool, voice, app, intent_rows, drop_context=False)
    intent_pairs.emotion[:] = -1
    intent_pairs.emotion_target = np.zeros((len(intent_rows), len(EKMAN_EMOTIONS)), np.float32)
    pools["intent_pairs"] = intent_pairs
    # Bitext messages after MELD turns: previous turns must not move the intent either
    meld = pools["meld_train"]
    with_ctx = [i for i in range(len(meld)) if meld.inputs.context_present[i].any()]
    rows = [int(rng.randrange(len(bt_pool))) for _ in range(opts.context_intent)]
    sources = [int(rng.choice(with_ctx)) for _ in rows]
    ctx_pool = Pool(FusionInputs(*(np.array(getattr(bt_pool.inputs, n)[rows]) for n in bt_pool.inputs.names)),
                    bt_pool.emotion[rows], bt_pool.sentiment[rows], bt_pool.intent[rows], bt_pool.escalation[rows],
                    np.full(len(rows), 2))
    ctx_pool.inputs.context[:] = meld.inputs.context[sources]
    ctx_pool.inputs.context_present[:] = meld.inputs.context_present[sources]
    pools["intent_context"] = ctx_pool
    # evaluation pairs: MELD dev texts with held-out speakers' clips of the same emotion
    dev = pools["meld_dev"]
    held_idx = np.flatnonzero(held)
    eval_rows = []
    for clip in held_idx:
        candidates = np.flatnonzero(dev.emotion == app[clip])
        for t in rng.sample(list(candidates), min(3, len(candidates))):
            eval_rows.append((int(clip), int(t)))
    pools["pairs_eval"] = _pairs(dev, voice, app, eval_rows, drop_context=True)

    # synthetic screens for Bitext messages: a console page with a same-intent chat line
    by_intent: dict[int, list[TextExample]] = {}
    for e in bitext["train"]:
        by_intent.setdefault(int(e.intent), []).append(e)  # type: ignore[arg-type]
    chosen = rng.sample(bitext["train"], min(opts.screens, len(bitext["train"])))
    screens = [screen_text(rng, INTENTS[int(e.intent)], rng.choice(by_intent[int(e.intent)]).text)  # type: ignore[arg-type]
               for e in chosen]
    screen_feats = featurize([s for s, _ in screens], sub(0.8, 0.95), "screens")
    message_feats = featurize([e.text for e in chosen])
    base = text_pool(chosen, message_feats, 5)
    base.inputs.screen[:, :TEXT_DIM] = screen_feats
    base.inputs.screen[:, TEXT_DIM:] = np.stack([f for _, f in screens])
    base.inputs.screen_present[:] = 1
    pools["screens"] = base
    # emotion-labelled messages with a random console page: what the screen shows must not decide the emotion
    picks = [int(rng.randrange(len(texts))) for _ in range(opts.screen_emotion)]
    screen_rows = [int(rng.randrange(len(base))) for _ in picks]
    emo_screens = Pool(FusionInputs(*(np.array(getattr(texts.inputs, n)[picks]) for n in texts.inputs.names)),
                       texts.emotion[picks], texts.sentiment[picks], texts.intent[picks], texts.escalation[picks],
                       np.full(len(picks), 5))
    emo_screens.inputs.screen[:] = base.inputs.screen[screen_rows]
    emo_screens.inputs.screen_present[:] = 1
    pools["screen_emotion"] = emo_screens
    state.set_progress(1.0, "features ready")
    return pools


def _pairs(texts: Pool, voice: np.ndarray, app: np.ndarray, rows: list[tuple[int, int]], drop_context: bool) -> Pool:
    clip_idx = np.array([c for c, _ in rows])
    text_idx = np.array([t for _, t in rows])
    inputs = FusionInputs(*(np.array(getattr(texts.inputs, n)[text_idx]) for n in texts.inputs.names))
    if drop_context:
        inputs.context_present[:] = 0
    inputs.voice[:], inputs.voice_present[:] = voice[clip_idx], 1
    return Pool(inputs, app[clip_idx], texts.sentiment[text_idx], texts.intent[text_idx],
                texts.escalation[text_idx], np.full(len(rows), 4))
