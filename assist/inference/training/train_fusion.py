"""``assist train fusion``: the multimodal fusion model from encoder features of the shared data.

There is no aligned text + voice + screen emotion corpus here, so the training pool combines, and the
model card says so:
- MELD train utterances with their previous turns as context (emotion, sentiment);
- GoEmotions train (single-label Ekman subset; emotion, sentiment where its groups give one);
- Bitext train (intent);
- EmoDB clips, voice only (emotion; boredom counted as neutral), with voice features predicted by
  voice models that never heard the speaker (leave-one-speaker-out), as the app would see a new caller;
- label-matched pairs: a text example and an EmoDB clip with the same emotion;
- synthetic screens: a support-console page (order status, amount, ids) with a chat snippet of the same
  intent as the message, as OCR reads it, paired with Bitext messages (intent).
Escalation has no labelled data: its head learns weak labels from the documented rule
(``assist.inference.escalation``) applied with the gold labels where the data has them.
Encoder features come from the shipped text model (int8 ONNX) and voice pipeline and are cached.
Two EmoDB speakers are held out of every step for the text + voice evaluation; MELD dev, GoEmotions test
and the Bitext test split are never trained on; temperatures are fitted on MELD train dialogues the
text model held out for its own model selection (and the Bitext dev split for intent).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass
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
from assist.inference.training.data import (
    TextExample,
    load_bitext,
    load_goemotions,
    load_meld,
    split_meld_train,
)

HELD_OUT_SPEAKERS = ("15", "16")
AROUSAL = {"anger": 0.9, "boredom": 0.1, "disgust": 0.5, "fear": 0.8, "joy": 0.75, "neutral": 0.35, "sadness": 0.2}
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
    from platformdirs import user_cache_path

    return user_cache_path("Assist") / "fusion"


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
        from assist.inference.text_model import clean_text

        missing = [t for t in dict.fromkeys(texts) if _key(t) not in self.cache]
        for i, text in enumerate(missing):
            try:
                out = self.model.run([clean_text(text)])
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
    from assist.inference.training.train_voice import (
        VoiceTrainOptions,
        augmented_vectors,
        extract_all,
        fit_net,
        predict,
    )
    from assist.inference.voice.emodb import VOICE_CLASSES as TRAINED
    from assist.inference.voice.emodb import load_emodb

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
    from assist.inference.training.data import meld_fold_of

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


# ---- training ---------------------------------------------------------------------------------------


def _tensors(inputs: FusionInputs, idx: np.ndarray) -> list[Any]:
    import torch

    return [torch.from_numpy(np.ascontiguousarray(getattr(inputs, n)[idx])) for n in inputs.names]


def _modality_dropout(batch: list[Any], opts: FusionTrainOptions, gen: Any) -> list[Any]:
    import torch

    text_p, ctx_p, voice_p, screen_p = (batch[1].clone(), batch[3].clone(), batch[5].clone(), batch[7].clone())
    has_ctx = (ctx_p.sum(1) > 0).float()
    drop_ctx = (torch.rand(len(text_p), generator=gen) < opts.context_dropout).float() * has_ctx
    ctx_p = ctx_p * (1 - drop_ctx[:, None])
    flags = torch.stack([text_p, voice_p, screen_p], 1)
    drop = (torch.rand(flags.shape, generator=gen) < opts.modality_dropout).float() * flags
    multi = flags.sum(1) >= 2
    kept = flags * (1 - drop)
    kept[~multi] = flags[~multi]
    empty = (kept.sum(1) == 0) & multi
    kept[empty] = flags[empty]  # never drop everything
    out = list(batch)
    out[1], out[3], out[5], out[7] = kept[:, 0], ctx_p, kept[:, 1], kept[:, 2]
    return out


def _loss(outputs: tuple[Any, ...], emo: Any, sent: Any, intent: Any, esc: Any) -> Any:
    import torch
    import torch.nn.functional as F

    total = 0.0
    known = emo.sum(1) > 0  # soft emotion targets (N, 7); all zero = no emotion label
    if known.any():
        target = emo[known] * 0.95 + 0.05 / emo.shape[1]
        total = total - (target * torch.log_softmax(outputs[0][known], dim=1)).sum(1).mean()
    for logits, gold, weight in ((outputs[1], sent, 0.5), (outputs[2], intent, 0.5)):
        if (gold >= 0).any():
            total = total + weight * F.cross_entropy(logits[gold >= 0], gold[gold >= 0], label_smoothing=0.05)
    known = esc >= 0
    if known.any():
        total = total + 0.3 * F.binary_cross_entropy_with_logits(outputs[3][known, 0], esc[known])
    return total


def predict_pool(net: Any, inputs: FusionInputs, batch: int = 512) -> dict[str, np.ndarray]:
    import torch

    out: dict[str, list[np.ndarray]] = {h: [] for h in ("emotion", "sentiment", "intent", "escalation")}
    net.eval()
    with torch.inference_mode():
        for start in range(0, len(inputs.text), batch):
            idx = np.arange(start, min(len(inputs.text), start + batch))
            for h, v in zip(out, net(*_tensors(inputs, idx))):
                out[h].append(v.numpy())
    return {h: np.concatenate(v) for h, v in out.items()}


def weighted_f1(gold: np.ndarray, logits: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    keep = gold >= 0
    return float(f1_score(gold[keep], logits[keep].argmax(1), average="weighted"))


def fit(pools: dict[str, Any], opts: FusionTrainOptions, state: ProgressState) -> tuple[Any, list[dict[str, float]]]:
    import torch

    from assist.inference.fusion.network import FusionNet

    torch.manual_seed(opts.seed)
    gen = torch.Generator().manual_seed(opts.seed)
    train = Pool.concat([pools[k] for k in TRAIN_POOLS])
    net = FusionNet(opts.dim, opts.layers, opts.heads, opts.dropout, opts.input_dropout)
    optim = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    steps = opts.epochs * (len(train) // opts.batch_size + 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=opts.lr, total_steps=steps, pct_start=0.1)
    labels = [torch.from_numpy(train.targets()), torch.from_numpy(train.sentiment), torch.from_numpy(train.intent)]
    esc = torch.from_numpy(train.escalation.astype(np.float32))
    history, best, best_state, step = [], -1.0, None, 0
    rng = np.random.default_rng(opts.seed)
    for epoch in range(opts.epochs):
        net.train()
        order = rng.permutation(len(train))
        for start in range(0, len(order), opts.batch_size):
            idx = order[start : start + opts.batch_size]
            batch = _modality_dropout(_tensors(train.inputs, idx), opts, gen)
            loss = _loss(net(*batch), *(lab[idx] for lab in labels), esc[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()
            sched.step()
            step += 1
            if step % 20 == 0:
                state.set_progress(step / steps, f"epoch {epoch + 1}/{opts.epochs} loss {loss.item():.3f}")
        held = predict_pool(net, pools["meld_held"].inputs)
        score = weighted_f1(pools["meld_held"].emotion, held["emotion"])
        history.append({"epoch": epoch + 1, "meld_held_emotion_wf1": round(score, 4)})
        if score > best:
            best, best_state = score, {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return net.eval(), history


def fit_temperature(logits: np.ndarray, gold: np.ndarray, binary: bool = False) -> float:
    """Temperature minimising the negative log-likelihood on held-out data (grid + refinement)."""
    keep = gold >= 0
    z, y = logits[keep], gold[keep]

    def nll(t: float) -> float:
        if binary:
            p = 1 / (1 + np.exp(-z[:, 0] / t))
            return float(-np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9)))
        s = z / t
        s = s - s.max(1, keepdims=True)
        return float(-np.mean(s[np.arange(len(y)), y.astype(int)] - np.log(np.exp(s).sum(1))))

    grid = np.exp(np.linspace(np.log(0.25), np.log(8), 200))
    best = min(grid, key=nll)
    return float(best)


def ece(logits: np.ndarray, gold: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top class (equal-width confidence bins)."""
    keep = gold >= 0
    z = logits[keep] - logits[keep].max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    conf, pred = p.max(1), p.argmax(1)
    correct = (pred == gold[keep]).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def evaluate(net: Any, pools: dict[str, Any]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    from assist.inference.training.evaluate import classification_report, multilabel_report

    out: dict[str, Any] = {}
    dev = pools["meld_dev"]
    with_ctx = predict_pool(net, dev.inputs)
    alone_inputs = FusionInputs(*(np.array(getattr(dev.inputs, n)) for n in dev.inputs.names))
    alone_inputs.context_present[:] = 0
    alone = predict_pool(net, alone_inputs)
    out["meld_dev_emotion"] = classification_report(dev.emotion, with_ctx["emotion"].argmax(1), EKMAN_EMOTIONS)
    out["meld_dev_emotion_without_context"] = classification_report(dev.emotion, alone["emotion"].argmax(1),
                                                                     EKMAN_EMOTIONS)
    out["meld_dev_emotion_text_model_alone"] = classification_report(
        dev.emotion, dev.inputs.text[:, 384:391].argmax(1), EKMAN_EMOTIONS)
    out["meld_dev_sentiment"] = classification_report(dev.sentiment, with_ctx["sentiment"].argmax(1), SENTIMENTS)
    goe = predict_pool(net, pools["goemotions_test"].inputs)
    out["goemotions_ekman_test"] = multilabel_report(pools["goemotions_test_gold"], list(goe["emotion"].argmax(1)),
                                                     EKMAN_EMOTIONS)
    bt = pools["bitext_test"]
    intent = predict_pool(net, bt.inputs)
    out["bitext_test_intent"] = classification_report(bt.intent, intent["intent"].argmax(1), INTENTS)
    # intent must not move with the voice: Bitext test messages with a held-out speaker's clip attached
    held_voice = pools["emodb_held"].inputs.voice
    with_voice = FusionInputs(*(np.array(getattr(bt.inputs, n)) for n in bt.inputs.names))
    with_voice.voice[:] = held_voice[np.arange(len(bt)) % len(held_voice)]
    with_voice.voice_present[:] = 1
    out["bitext_test_intent_with_voice"] = classification_report(
        bt.intent, predict_pool(net, with_voice)["intent"].argmax(1), INTENTS)
    with_ctx = FusionInputs(*(np.array(getattr(bt.inputs, n)) for n in bt.inputs.names))
    dev_ctx = np.flatnonzero(dev.inputs.context_present.any(1))
    with_ctx.context[:] = dev.inputs.context[dev_ctx[np.arange(len(bt)) % len(dev_ctx)]]
    with_ctx.context_present[:] = dev.inputs.context_present[dev_ctx[np.arange(len(bt)) % len(dev_ctx)]]
    out["bitext_test_intent_with_context"] = classification_report(
        bt.intent, predict_pool(net, with_ctx)["intent"].argmax(1), INTENTS)
    # voice: held-out EmoDB speakers, voice only; text + voice pairs on MELD dev texts
    held = pools["emodb_held"]
    voice_only = predict_pool(net, held.inputs)["emotion"].argmax(1)
    present = sorted(set(held.emotion.tolist()))
    out["emodb_held_out_speakers_voice_only"] = {
        "speakers": list(HELD_OUT_SPEAKERS), "n": len(held),
        "uar": round(float(recall_score(held.emotion, voice_only, labels=present, average="macro")), 4),
        "accuracy": round(float(accuracy_score(held.emotion, voice_only)), 4)}
    pairs = pools["pairs_eval"]
    both = predict_pool(net, pairs.inputs)["emotion"].argmax(1)
    text_only_inputs = FusionInputs(*(np.array(getattr(pairs.inputs, n)) for n in pairs.inputs.names))
    text_only_inputs.voice_present[:] = 0
    text_only = predict_pool(net, text_only_inputs)["emotion"].argmax(1)
    voice_inputs = FusionInputs(*(np.array(getattr(pairs.inputs, n)) for n in pairs.inputs.names))
    voice_inputs.text_present[:] = 0
    voice_pred = predict_pool(net, voice_inputs)["emotion"].argmax(1)
    out["pairs_meld_dev_text_heldout_voice"] = {
        "n": len(pairs), **{name: {"accuracy": round(float(accuracy_score(pairs.emotion, p)), 4),
                                   "macro_f1": round(float(f1_score(pairs.emotion, p, average="macro")), 4)}
                            for name, p in (("text_only", text_only), ("voice_only", voice_pred), ("text_and_voice", both))}}
    return out


def calibrate(net: Any, pools: dict[str, Any]) -> dict[str, Any]:
    import torch

    held = pools["meld_held"]
    raw = predict_pool(net, held.inputs)
    bdev = pools["bitext_dev"]
    raw_b = predict_pool(net, bdev.inputs)
    esc_logits = np.concatenate([raw["escalation"], raw_b["escalation"]])
    esc_gold = np.concatenate([held.escalation, bdev.escalation])
    temps = [fit_temperature(raw["emotion"], held.emotion), fit_temperature(raw["sentiment"], held.sentiment),
             fit_temperature(raw_b["intent"], bdev.intent), fit_temperature(esc_logits, esc_gold, binary=True)]
    dev = pools["meld_dev"]
    before = predict_pool(net, dev.inputs)
    net.temperature.copy_(torch.tensor(temps, dtype=torch.float32))
    after = predict_pool(net, dev.inputs)
    return {"temperatures": dict(zip(("emotion", "sentiment", "intent", "escalation"), [round(t, 3) for t in temps])),
            "fitted_on": "MELD train dialogues held out of text-model training (emotion, sentiment); Bitext dev (intent); both (escalation)",
            "meld_dev_emotion_ece": {"before": round(ece(before["emotion"], dev.emotion), 4),
                                     "after": round(ece(after["emotion"], dev.emotion), 4)},
            "meld_dev_sentiment_ece": {"before": round(ece(before["sentiment"], dev.sentiment), 4),
                                       "after": round(ece(after["sentiment"], dev.sentiment), 4)}}


def train_fusion(data_dir: Path, out_dir: Path, opts: FusionTrainOptions | None = None,
                 state: ProgressState | None = None) -> dict[str, Any]:
    import torch

    from assist.inference.fusion.network import export_onnx, save_weights

    opts = opts or FusionTrainOptions()
    state = state or ProgressState()
    began = time.time()
    previous = torch.get_num_threads()
    torch.set_num_threads(opts.threads)
    try:
        pools = build_pools(data_dir, opts, ProgressState(lambda f, m: state.set_progress(0.5 * f, m)))
        features_s = time.time() - began
        net, history = fit(pools, opts, ProgressState(lambda f, m: state.set_progress(0.5 + 0.45 * f, m)))
        calibration = calibrate(net, pools)
        metrics = evaluate(net, pools)
    finally:
        torch.set_num_threads(previous)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_weights(net, out_dir / "weights.safetensors")
    export_onnx(net, out_dir / "fusion.onnx")
    summary = {
        "meld_dev_emotion_weighted_f1": metrics["meld_dev_emotion"]["weighted_f1"],
        "meld_dev_emotion_weighted_f1_without_context": metrics["meld_dev_emotion_without_context"]["weighted_f1"],
        "meld_dev_emotion_weighted_f1_text_model_alone": metrics["meld_dev_emotion_text_model_alone"]["weighted_f1"],
        "meld_dev_sentiment_weighted_f1": metrics["meld_dev_sentiment"]["weighted_f1"],
        "goemotions_ekman_test_macro_f1": metrics["goemotions_ekman_test"]["macro_f1"],
        "bitext_test_intent_accuracy": metrics["bitext_test_intent"]["accuracy"],
        "bitext_test_intent_accuracy_with_voice": metrics["bitext_test_intent_with_voice"]["accuracy"],
        "bitext_test_intent_accuracy_with_context": metrics["bitext_test_intent_with_context"]["accuracy"],
        "emodb_held_out_voice_only_uar": metrics["emodb_held_out_speakers_voice_only"]["uar"],
        "pairs_text_and_voice_accuracy": metrics["pairs_meld_dev_text_heldout_voice"]["text_and_voice"]["accuracy"],
        "pairs_text_only_accuracy": metrics["pairs_meld_dev_text_heldout_voice"]["text_only"]["accuracy"],
        "meld_dev_emotion_ece_after_calibration": calibration["meld_dev_emotion_ece"]["after"],
    }
    config = {
        "version": "fusion-" + dt.datetime.now().strftime("%Y%m%d-%H%M"),
        "onnx": "fusion.onnx", "onnx_opset": 17, "network": net.config,
        "text_model_sha256": pools_text_sha(),
        "options": asdict(opts), "selection_history": history,
        "train_rows": {k: len(pools[k]) for k in TRAIN_POOLS},
        "seconds": {"features": round(features_s, 1), "total": round(time.time() - began, 1)},
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    result = {"summary": summary, "calibration": calibration, **metrics,
              "weights_sha256": hashlib.sha256((out_dir / "fusion.onnx").read_bytes()).hexdigest()}
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_model_card(out_dir)
    state.set_progress(1.0, "saved")
    return {"summary": summary, "calibration": calibration, "config": config}


def pools_text_sha() -> str:
    from assist.inference.text_onnx import OnnxTextModel

    return OnnxTextModel(device="cpu").weights_sha256()


def write_model_card(out_dir: Path) -> None:
    """MODEL_CARD.md from config.json and metrics.json (every number comes from those files)."""
    config = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    m = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    s, cal = m["summary"], m["calibration"]
    pairs = m["pairs_meld_dev_text_heldout_voice"]
    emo = m["meld_dev_emotion"]
    rows = config["train_rows"]
    lines = [
        "# Model card — Assist fusion model (`models/fusion`)",
        "",
        "Fuses what the agent has for one customer turn — the message, the previous turns, the customer's voice",
        "and the last screenshot — into emotion (7 Ekman classes), sentiment (3), intent (27 Bitext intents) and",
        "an escalation probability, with any subset of those inputs, and says which input drove the estimate.",
        "",
        "## Architecture",
        "",
        "- Inputs are the encoders' outputs (see `assist/inference/fusion/features.py`): text = the text model's",
        "  pooled 384-d vector and its emotion/sentiment/intent logits; context = the same for each of the 3",
        "  previous turns (+ same-speaker flag); voice = the voice model's class log-probabilities, arousal and",
        "  loudness; screen = the text features of the screenshot's OCR text + 4 flags (problem status, error",
        "  code, amount, reference id).",
        f"- Each modality has its own projection to {config['network']['dim']} dims and a token embedding",
        f"  (context turns by distance); {config['network']['layers']} pre-norm attention layers",
        f"  ({config['network']['heads']} heads) over [summary, text, context x3, voice, screen] with absent",
        "  tokens masked out as keys; heads on the summary token. Trained with modality dropout",
        f"  ({config['options']['modality_dropout']} per present modality, never all; all context of a MELD row",
        f"  with {config['options']['context_dropout']}), so any subset works.",
        "- Temperatures per head are applied inside the graph (calibrated logits). Artifacts: `fusion.onnx`",
        f"  (opset {config['onnx_opset']}, fp32, ~1 MB: no int8 variant, it would save nothing), `weights.safetensors`,",
        "  `config.json`, `metrics.json`.",
        "- Explanations: the graph runs once more per present modality with that modality masked out (one",
        "  batch); a modality's contribution is the drop in the top class's probability without it.",
        "",
        "## Training data (no aligned text + voice + screen corpus exists here; said plainly)",
        "",
        f"- MELD train utterances with their previous turns as context: {rows['meld_train']} rows (emotion,",
        "  sentiment); the 8% of MELD train dialogues the text model held out are used only for epoch",
        "  selection and calibration.",
        f"- GoEmotions train, single-label Ekman subset: {rows['goemotions']} rows (emotion; sentiment from its groups).",
        f"- Bitext train: {rows['bitext']} rows (intent).",
        f"- EmoDB, voice only: {rows['emodb']} clips of 6 speakers (speakers {', '.join(HELD_OUT_SPEAKERS)} held out",
        "  for evaluation); their voice features come from voice models that never heard the speaker",
        "  (leave-one-speaker-out), as for a new caller. Boredom counts as neutral.",
        f"- Text + voice pairs: {rows['pairs']} combinations of a MELD/GoEmotions text and an EmoDB clip;",
        f"  {1 - config['options']['mismatched_pairs']:.0%} have the same emotion, the rest differ and are trained",
        "  towards half of each (when words and voice disagree neither should win outright). They teach the",
        "  model to combine modalities; they are not real calls (German acted speech with English text).",
        f"- {rows['intent_pairs']} Bitext messages with a random clip and {rows['intent_context']} with random MELD turns as",
        "  context (intent only), so neither the voice nor the previous turns move the intent on their own.",
        f"- Synthetic screens: {rows['screens']} Bitext messages with a support-console page as OCR would read it",
        "  (order id, a status chosen from the intent 80% of the time, an amount, sometimes an error code, and a chat",
        f"  line of the same intent), and {rows['screen_emotion']} emotion-labelled MELD/GoEmotions messages with a",
        "  random page (the page must not decide the emotion).",
        "- Escalation has no labelled data: the head learns weak labels from the documented rule",
        "  (`assist/inference/escalation.py`, medium or high) applied with the gold labels where the data has them.",
        "",
        "## Metrics (`assist train fusion`; JSON in `metrics.json`)",
        "",
        "| metric | value |",
        "|---|---|",
        f"| MELD dev emotion weighted-F1, with 3 previous turns (target >= 0.62) | {s['meld_dev_emotion_weighted_f1']:.4f} |",
        f"| MELD dev emotion weighted-F1, without context (same model) | {s['meld_dev_emotion_weighted_f1_without_context']:.4f} |",
        f"| MELD dev emotion weighted-F1 of the text model alone (its emotion head) | {s['meld_dev_emotion_weighted_f1_text_model_alone']:.4f} |",
        f"| MELD dev emotion macro-F1 / accuracy, with context | {emo['macro_f1']:.4f} / {emo['accuracy']:.4f} |",
        f"| MELD dev sentiment weighted-F1, with context | {s['meld_dev_sentiment_weighted_f1']:.4f} |",
        f"| GoEmotions ekman test macro-F1 (text only) | {s['goemotions_ekman_test_macro_f1']:.4f} |",
        f"| Bitext held-out test intent accuracy: text only / + a held-out speaker's voice / + MELD dev turns as context | "
        f"{s['bitext_test_intent_accuracy']:.4f} / {s['bitext_test_intent_accuracy_with_voice']:.4f} / "
        f"{s['bitext_test_intent_accuracy_with_context']:.4f} |",
        f"| EmoDB held-out speakers {'/'.join(HELD_OUT_SPEAKERS)}, voice only: UAR | {s['emodb_held_out_voice_only_uar']:.4f} |",
        f"| Pairs (MELD dev text + held-out speakers' voice, n={pairs['n']}): accuracy text only / voice only / both | "
        f"{pairs['text_only']['accuracy']:.4f} / {pairs['voice_only']['accuracy']:.4f} / {pairs['text_and_voice']['accuracy']:.4f} |",
        f"| MELD dev emotion ECE before / after temperature scaling | {cal['meld_dev_emotion_ece']['before']:.4f} / {cal['meld_dev_emotion_ece']['after']:.4f} |",
        f"| MELD dev sentiment ECE before / after | {cal['meld_dev_sentiment_ece']['before']:.4f} / {cal['meld_dev_sentiment_ece']['after']:.4f} |",
        "",
        "Temperatures: " + ", ".join(f"{k} {v}" for k, v in cal["temperatures"].items()) + f" (fitted on {cal['fitted_on']}).",
        "",
        "MELD dev per-class F1 with context: " + ", ".join(f"{k} {v:.2f}" for k, v in emo["per_class_f1"].items()) + ".",
        "",
        "## Limitations",
        "",
        "- The voice part learned from German acted speech (EmoDB, 6 speakers); real callers on a phone line sound",
        "  different. The text+voice pairs are label-matched, not recorded together.",
        "- Screens are synthetic in training; real consoles differ. The screen token mostly carries intent evidence.",
        "- The escalation head imitates a rule; its probability is not an observed escalation rate.",
        "- English text only.",
        "",
        "## Reproduce",
        "",
        "    .venv/bin/assist train fusion          # features cached in the user cache folder; writes models/fusion",
        "",
        f"Run time here: {config['seconds']['total']:.0f} s (features {config['seconds']['features']:.0f} s; first run",
        "includes the voice leave-one-speaker-out features and the text features of every data set).",
        "",
        "Licence: trained on MELD (GPL-3.0), GoEmotions, Bitext (CDLA-Sharing-1.0) and EmoDB (research use);",
        "observe their licences when redistributing.",
    ]
    card = out_dir / "MODEL_CARD.md"
    kept = ""
    if card.is_file() and NOTES_HEADING in card.read_text(encoding="utf-8"):
        kept = card.read_text(encoding="utf-8").split(NOTES_HEADING, 1)[1]  # hand-written notes survive
    card.write_text("\n".join(lines) + "\n" + (f"\n{NOTES_HEADING}{kept}" if kept else ""), encoding="utf-8")


NOTES_HEADING = "## Development notes"
