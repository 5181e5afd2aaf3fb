"""``train_voice`` / ``evaluate_voice_loso``: the voice-emotion model on EmoDB.

Features are the per-clip summary vectors of ``assist.inference.voice.summary``; the network is a
small ensemble of MLPs (``assist.inference.voice.network``). Training adds copies of every clip with
its log-mel warped along frequency (a vocal-tract-length change) and its pitch shifted, so the model
sees more "speakers" than EmoDB's eight. No per-speaker normalisation: each clip is normalised only
by itself, as at run time. Evaluation is leave-one-speaker-out.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import ProgressState
from assist.inference.voice.emodb import TO_APP, VOICE_CLASSES, EmoDBClip, load_emodb
from assist.inference.voice.features import VoiceFeatures, features_from_file
from assist.inference.voice.summary import FEATURE_DIM, FEATURE_NAMES, N_MELS, summary_vector

WEIGHTS_FILE, CONFIG_FILE, ONNX_FILE, CARD_FILE = "weights.safetensors", "config.json", "voice.onnx", "MODEL_CARD.md"
METRICS_FILE, SEEDS_FILE = "loso_metrics.json", "loso_seeds.json"


@dataclass
class VoiceTrainOptions:
    seed: int = 7
    members: int = 3  # MLPs averaged in the ensemble
    linear_weight: float = 0.5  # share of the logistic-regression member in the output (0 = none)
    linear_c: float = 0.1  # its inverse L2 strength (scikit-learn's C)
    hidden: tuple[int, ...] = (256, 32)
    dropout: float = 0.3
    input_dropout: float = 0.1
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    balanced: bool = True  # class-weighted loss (UAR weighs every class alike; EmoDB has 2x more anger)
    augment_copies: int = 8  # perturbed copies of each training clip
    max_warp: float = 0.1  # log-mel frequency axis scaled by 1 +- this
    max_pitch_shift: float = 2.5  # semitones
    threads: int = 1  # torch threads (the app machine has 2 cores; leave one)


class _Span(ProgressState):
    """Progress of a sub-job mapped onto ``[start, end]`` of the parent's; cancelling the parent cancels it."""

    def __init__(self, parent: ProgressState, start: float, end: float, prefix: str) -> None:
        super().__init__(lambda f, m: parent.set_progress(start + (end - start) * f, prefix + m))
        self._parent = parent

    def is_cancelled(self) -> bool:
        return self._parent.is_cancelled()


def _check_cancel(state: ProgressState) -> None:
    if state.is_cancelled():
        raise KeyboardInterrupt("training cancelled")


def extract_all(clips: list[EmoDBClip], state: ProgressState, span: tuple[float, float]) -> list[VoiceFeatures]:
    out = []
    for i, clip in enumerate(clips, start=1):
        out.append(features_from_file(clip.path))
        if i % 20 == 0 or i == len(clips):
            state.set_progress(span[0] + (span[1] - span[0]) * i / len(clips), f"features {i}/{len(clips)}")
            _check_cancel(state)
    return out


def perturbed_vector(f: VoiceFeatures, warp: float, semitones: float) -> np.ndarray:
    """Summary vector after scaling the mel axis by ``warp`` and shifting pitch by ``semitones``."""
    position = np.clip(np.arange(N_MELS) * warp, 0, N_MELS - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, N_MELS - 1)
    weight = (position - low).astype(np.float32)
    mel = f.log_mel[:, low] * (1 - weight) + f.log_mel[:, high] * weight
    f0 = np.where(f.f0_hz > 0, f.f0_hz * 2 ** (semitones / 12), 0.0)
    return summary_vector(mel, f0, f.periodicity, f.frame_dbfs, f.active, f.voiced)


def augmented_vectors(feats: list[VoiceFeatures], opts: VoiceTrainOptions) -> np.ndarray:
    """(copies, clips, FEATURE_DIM) perturbed vectors, drawn with the fixed seed."""
    rng = np.random.default_rng(opts.seed)
    copies = []
    for _ in range(opts.augment_copies):
        copies.append(np.stack([
            perturbed_vector(f, 1 + rng.uniform(-opts.max_warp, opts.max_warp),
                             rng.uniform(-opts.max_pitch_shift, opts.max_pitch_shift)) for f in feats]))
    return np.asarray(copies, dtype=np.float32).reshape(opts.augment_copies, len(feats), FEATURE_DIM)


def fit_net(x: np.ndarray, y: np.ndarray, opts: VoiceTrainOptions, state: ProgressState,
            span: tuple[float, float]) -> Any:
    """Train the ensemble on raw vectors ``x`` (N, D) with labels ``y`` (indices into VOICE_CLASSES)."""
    import torch
    import torch.nn.functional as F

    from assist.inference.voice.network import build_voice_net

    torch.manual_seed(opts.seed)  # the initial weights are drawn here
    net = build_voice_net(FEATURE_DIM, len(VOICE_CLASSES), opts.hidden, opts.members, opts.dropout,
                          opts.input_dropout, opts.linear_weight)
    net.mean.copy_(torch.tensor(x.mean(0)))
    net.scale.copy_(torch.tensor(x.std(0) + 1e-4))
    with torch.no_grad():
        z = net.standardise(torch.tensor(x, dtype=torch.float32))
    target = torch.tensor(y, dtype=torch.long)
    counts = np.bincount(y, minlength=len(VOICE_CLASSES)).astype(np.float64)
    weights = len(y) / (len(VOICE_CLASSES) * np.maximum(counts, 1)) if opts.balanced else np.ones(len(counts))
    class_weight = torch.tensor(weights, dtype=torch.float32)
    steps_per_epoch = (len(z) + opts.batch_size - 1) // opts.batch_size
    for index in range(opts.members):
        torch.manual_seed(opts.seed * 100 + index)
        generator = torch.Generator().manual_seed(opts.seed * 100 + index)
        params = list(net.members[index].parameters())
        optimizer = torch.optim.AdamW(params, lr=opts.lr, weight_decay=opts.weight_decay)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=opts.lr,
                                                        total_steps=opts.epochs * steps_per_epoch)
        net.train()
        for _epoch in range(opts.epochs):
            order = torch.randperm(len(z), generator=generator)
            for start in range(0, len(z), opts.batch_size):
                batch = order[start : start + opts.batch_size]
                loss = F.cross_entropy(net.member_logits(index, z[batch]), target[batch], weight=class_weight,
                                       label_smoothing=opts.label_smoothing)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
            _check_cancel(state)
        state.set_progress(span[0] + (span[1] - span[0]) * (index + 1) / (opts.members + 1),
                           f"member {index + 1}/{opts.members} loss {loss.item():.3f}")
    if opts.linear_weight > 0:
        fit_linear_member(net, z.numpy(), y, opts)
    return net.eval()


def fit_linear_member(net: Any, z: np.ndarray, y: np.ndarray, opts: VoiceTrainOptions) -> None:
    """Multinomial logistic regression (scikit-learn, L-BFGS, class-balanced) on the standardised input,
    copied into the network's linear member."""
    import torch
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=opts.linear_c, max_iter=3000, class_weight="balanced" if opts.balanced else None)
    model.fit(z, y)
    weight = np.zeros((len(VOICE_CLASSES), z.shape[1]), dtype=np.float32)
    bias = np.full(len(VOICE_CLASSES), -1e4, dtype=np.float32)  # a class absent from training: never chosen
    weight[model.classes_] = model.coef_
    bias[model.classes_] = model.intercept_
    with torch.no_grad():
        net.linear.weight.copy_(torch.from_numpy(weight))
        net.linear.bias.copy_(torch.from_numpy(bias))


def predict(net: Any, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return net(torch.tensor(x, dtype=torch.float32))[0].numpy()


def report(truth: list[str], predicted: list[str], classes: tuple[str, ...]) -> dict[str, Any]:
    """UAR (mean recall over the classes present), accuracy, per-class recall / F1 / support, confusion."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    present = [c for c in classes if c in truth]
    _, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=present, zero_division=0)
    return {
        "uar": float(np.mean(recall)),
        "accuracy": float(np.mean(np.array(truth) == np.array(predicted))),
        "per_class": {c: {"recall": float(r), "f1": float(f), "support": int(s)}
                      for c, r, f, s in zip(present, recall, f1, support)},
        "confusion": {"labels": list(classes), "matrix": confusion_matrix(truth, predicted, labels=list(classes)).tolist()},
        "clips": len(truth),
    }


def mean_over_folds(folds: dict[str, dict[str, Any]], classes: tuple[str, ...]) -> dict[str, Any]:
    per_class = {}
    for c in classes:
        rows = [f["per_class"][c] for f in folds.values() if c in f["per_class"]]
        per_class[c] = {"recall": float(np.mean([r["recall"] for r in rows])),
                        "f1": float(np.mean([r["f1"] for r in rows])), "folds": len(rows)}
    return {"uar": float(np.mean([f["uar"] for f in folds.values()])),
            "accuracy": float(np.mean([f["accuracy"] for f in folds.values()])),
            "uar_std": float(np.std([f["uar"] for f in folds.values()])), "per_class": per_class}


def _merged(labels: list[str]) -> list[str]:
    return [TO_APP.get(x, x) for x in labels]


def evaluate_voice_loso(data_dir: Path, opts: VoiceTrainOptions | None = None, state: ProgressState | None = None,
                        features: list[VoiceFeatures] | None = None) -> dict[str, Any]:
    """Leave-one-speaker-out: train on 7 speakers (augmented), test on the 8th (as recorded), 8 times."""
    import torch

    opts = opts or VoiceTrainOptions()
    state = state or ProgressState()
    began = time.time()
    clips = load_emodb(data_dir)
    feats = features or extract_all(clips, state, (0.0, 0.1))
    x = np.stack([f.vector for f in feats])
    augmented = augmented_vectors(feats, opts)
    y = np.array([VOICE_CLASSES.index(c.emotion) for c in clips])
    speakers = np.array([c.speaker for c in clips])
    predicted = np.empty(len(clips), dtype=object)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(opts.threads)
    try:
        for k, speaker in enumerate(sorted(set(speakers))):
            train = speakers != speaker
            x_train = np.concatenate([x[train], *augmented[:, train]])
            y_train = np.tile(y[train], opts.augment_copies + 1)
            net = fit_net(x_train, y_train, opts, state, (0.1 + 0.9 * k / 8, 0.1 + 0.9 * (k + 1) / 8))
            predicted[~train] = [VOICE_CLASSES[i] for i in predict(net, x[~train]).argmax(1)]
    finally:
        torch.set_num_threads(previous_threads)
    truth = [c.emotion for c in clips]
    folds = {s: report([truth[i] for i in np.flatnonzero(speakers == s)],
                       [predicted[i] for i in np.flatnonzero(speakers == s)], VOICE_CLASSES)
             for s in sorted(set(speakers))}
    merged_classes = tuple(c for c in VOICE_CLASSES if c not in TO_APP)
    merged_folds = {s: report(_merged([truth[i] for i in np.flatnonzero(speakers == s)]),
                              _merged([predicted[i] for i in np.flatnonzero(speakers == s)]), merged_classes)
                    for s in sorted(set(speakers))}
    return {
        "protocol": "leave-one-speaker-out, 8 folds (EmoDB speakers), no per-speaker normalisation",
        "classes": list(VOICE_CLASSES),
        "mean_over_folds": mean_over_folds(folds, VOICE_CLASSES),
        "pooled": report(truth, list(predicted), VOICE_CLASSES),
        "per_speaker": {s: {"uar": f["uar"], "accuracy": f["accuracy"], "clips": f["clips"]} for s, f in folds.items()},
        "boredom_merged_into_neutral": {"classes": list(merged_classes),
                                        "mean_over_folds": mean_over_folds(merged_folds, merged_classes),
                                        "pooled": report(_merged(truth), _merged(list(predicted)), merged_classes)},
        "options": asdict(opts),
        "seconds": round(time.time() - began, 1),
    }


def _same_but_seed(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != "seed"} == {k: v for k, v in b.items() if k != "seed"}


def seed_study(data_dir: Path, out_dir: Path, seeds: tuple[int, ...] = (8, 9), opts: VoiceTrainOptions | None = None,
               state: ProgressState | None = None) -> dict[str, Any]:
    """LOSO with other seeds (everything else equal), saved to ``loso_seeds.json``: how much the figures move."""
    from dataclasses import replace

    opts = opts or VoiceTrainOptions()
    state = state or ProgressState()
    feats = extract_all(load_emodb(data_dir), state, (0.0, 0.1))
    runs = {}
    for k, seed in enumerate(seeds):
        m = evaluate_voice_loso(data_dir, replace(opts, seed=seed),
                                _Span(state, 0.1 + 0.9 * k / len(seeds), 0.1 + 0.9 * (k + 1) / len(seeds),
                                      f"seed {seed}: "), feats)
        runs[str(seed)] = {"uar": m["mean_over_folds"]["uar"], "accuracy": m["mean_over_folds"]["accuracy"],
                           "pooled_uar": m["pooled"]["uar"],
                           "merged_uar": m["boredom_merged_into_neutral"]["mean_over_folds"]["uar"]}
    study = {"options": asdict(opts), "seeds": runs}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SEEDS_FILE).write_text(json.dumps(study, indent=2) + "\n", encoding="utf-8")
    refresh_model_card(out_dir)
    return study


def refresh_model_card(out_dir: Path) -> bool:
    """(Re)write MODEL_CARD.md from config.json, loso_metrics.json and, if its options match, loso_seeds.json."""
    from assist.training.voice_card import write_model_card

    if not (out_dir / CONFIG_FILE).is_file() or not (out_dir / METRICS_FILE).is_file():
        return False
    config = json.loads((out_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    metrics = json.loads((out_dir / METRICS_FILE).read_text(encoding="utf-8"))
    seeds = None
    if (out_dir / SEEDS_FILE).is_file():
        seeds = json.loads((out_dir / SEEDS_FILE).read_text(encoding="utf-8"))
        seeds = seeds if _same_but_seed(seeds["options"], config["options"]) else None  # stale: other options
    if not _same_but_seed(metrics["options"], config["options"]) or metrics["options"]["seed"] != config["options"]["seed"]:
        return False  # metrics from another training run: do not mix them into this card
    write_model_card(out_dir / CARD_FILE, config, metrics, seeds)
    return True


def train_voice(data_dir: Path, out_dir: Path, opts: VoiceTrainOptions | None = None,
                state: ProgressState | None = None, evaluate: bool = True) -> dict[str, Any]:
    """LOSO evaluation (unless ``evaluate=False``), then the final model on all 8 speakers, saved to ``out_dir``."""
    import torch

    from assist.inference.voice.network import ONNX_OPSET, export_onnx, save_weights

    opts = opts or VoiceTrainOptions()
    state = state or ProgressState()
    began = time.time()
    clips = load_emodb(data_dir)
    feats = extract_all(clips, state, (0.0, 0.1))
    metrics = None
    if evaluate:
        metrics = evaluate_voice_loso(data_dir, opts, _Span(state, 0.1, 0.8, "LOSO: "), feats)
    x = np.stack([f.vector for f in feats])
    y = np.array([VOICE_CLASSES.index(c.emotion) for c in clips])
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(opts.threads)
    try:
        net = fit_net(np.concatenate([x, *augmented_vectors(feats, opts)]), np.tile(y, opts.augment_copies + 1),
                      opts, state, (0.8, 0.95))
    finally:
        torch.set_num_threads(previous_threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_weights(net, out_dir / WEIGHTS_FILE)
    export_onnx(net, FEATURE_DIM, out_dir / ONNX_FILE)
    config = {
        "version": "voice-" + dt.date.today().strftime("%Y%m%d"),
        "trained_at": dt.datetime.now().isoformat(timespec="seconds"),
        "classes": list(VOICE_CLASSES),
        "to_app": TO_APP,
        "feature_dim": FEATURE_DIM,
        "feature_names": list(FEATURE_NAMES),
        "network": {"hidden": list(opts.hidden), "members": opts.members, "dropout": opts.dropout,
                    "input_dropout": opts.input_dropout, "linear_weight": opts.linear_weight},
        "embedding_dim": opts.hidden[-1] * opts.members,
        "weights": WEIGHTS_FILE,
        "onnx": ONNX_FILE,
        "onnx_opset": ONNX_OPSET,
        "options": asdict(opts),
        "train_clips": len(clips),
        "train_speakers": sorted({c.speaker for c in clips}),
        "train_seconds": round(time.time() - began, 1),
    }
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    if metrics is not None:
        (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        refresh_model_card(out_dir)
    state.set_progress(1.0, "saved")
    return {"config": {k: v for k, v in config.items() if k != "feature_names"}, "loso": metrics}
