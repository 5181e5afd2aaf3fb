"""Fusion evaluation, temperature calibration and the model card (see train_fusion)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS
from assist.inference.fusion.features import FusionInputs
from assist.inference.labels import INTENTS
from assist.training.fusion_data import HELD_OUT_SPEAKERS
from assist.training.metrics import classification_report, ece, fit_temperature, multilabel_report


def tensors(inputs: FusionInputs, idx: np.ndarray) -> list[Any]:
    import torch

    return [torch.from_numpy(np.ascontiguousarray(getattr(inputs, n)[idx])) for n in inputs.names]


def predict_pool(net: Any, inputs: FusionInputs, batch: int = 512) -> dict[str, np.ndarray]:
    import torch

    out: dict[str, list[np.ndarray]] = {h: [] for h in ("emotion", "sentiment", "intent", "escalation")}
    net.eval()
    with torch.inference_mode():
        for start in range(0, len(inputs.text), batch):
            idx = np.arange(start, min(len(inputs.text), start + batch))
            for h, v in zip(out, net(*tensors(inputs, idx))):
                out[h].append(v.numpy())
    return {h: np.concatenate(v) for h, v in out.items()}


def evaluate(net: Any, pools: dict[str, Any]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score, recall_score


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
        "    .venv/bin/assist eval fusion           # score the shipped weights again (JSON), no retraining",
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
