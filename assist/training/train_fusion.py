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
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import ProgressState
from assist.training.eval_fusion import (
    calibrate,
    evaluate,
    predict_pool,
    tensors,
    write_model_card,
)
from assist.training.fusion_data import TRAIN_POOLS, FusionTrainOptions, Pool, build_pools
from assist.training.metrics import weighted_f1

__all__ = ["FusionTrainOptions", "rescore_fusion", "train_fusion"]

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
            batch = _modality_dropout(tensors(train.inputs, idx), opts, gen)
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
    summary = _summary(metrics, calibration)
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


def _summary(metrics: dict[str, Any], calibration: dict[str, Any]) -> dict[str, Any]:
    return {
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


def rescore_fusion(data_dir: Path, model_dir: Path, state: ProgressState | None = None) -> dict[str, Any]:
    """``assist eval fusion``: score the shipped weights again on the shared data, without retraining (the
    features are cached); the summary should equal the one in ``metrics.json`` for the same data."""
    import torch

    from assist.inference.fusion.network import load_net

    state = state or ProgressState()
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    known = set(FusionTrainOptions.__dataclass_fields__)
    opts = FusionTrainOptions(**{k: v for k, v in config.get("options", {}).items() if k in known})
    previous = torch.get_num_threads()
    torch.set_num_threads(opts.threads)
    try:
        pools = build_pools(data_dir, opts, ProgressState(lambda f, m: state.set_progress(0.8 * f, m)))
        net = load_net(model_dir / "weights.safetensors", config["network"])
        metrics = evaluate(net, pools)
    finally:
        torch.set_num_threads(previous)
    shipped = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8")) \
        if (model_dir / "metrics.json").is_file() else {}
    summary = _summary(metrics, shipped.get("calibration", {"meld_dev_emotion_ece": {"after": None}}))
    state.set_progress(1.0, "done")
    return {"summary": summary, "same_as_metrics_json": summary == shipped.get("summary"),
            "model_version": config.get("version")}


def pools_text_sha() -> str:
    from assist.inference.text_onnx import OnnxTextModel

    return OnnxTextModel(device="cpu").weights_sha256()
