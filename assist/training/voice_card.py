"""Writes ``models/voice/MODEL_CARD.md`` from the training config and the LOSO metrics, so every number
in the card is the one the training run produced."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _class_table(block: dict[str, Any], classes: list[str]) -> list[str]:
    mean, pooled = block["mean_over_folds"], block["pooled"]
    lines = ["| class | recall (mean over folds) | F1 (mean over folds) | recall (pooled) | F1 (pooled) | clips |",
             "|---|---|---|---|---|---|"]
    for c in classes:
        m, p = mean["per_class"][c], pooled["per_class"][c]
        lines.append(f"| {c} | {_pct(m['recall'])} | {_pct(m['f1'])} | {_pct(p['recall'])} | {_pct(p['f1'])} "
                     f"| {p['support']} |")
    lines.append(f"| **UAR / accuracy** | **{_pct(mean['uar'])}** / {_pct(mean['accuracy'])} | | "
                 f"{_pct(pooled['uar'])} / {_pct(pooled['accuracy'])} | | {pooled['clips']} |")
    return lines


def _top_confusions(confusion: dict[str, Any], count: int = 3) -> str:
    labels, matrix = confusion["labels"], confusion["matrix"]
    pairs = sorted(((matrix[i][j] + matrix[j][i], labels[i], labels[j]) for i in range(len(labels))
                    for j in range(i + 1, len(labels))), reverse=True)[:count]
    return "; ".join(f"{a} <-> {b} ({n} clips)" for n, a, b in pairs)


def _seed_lines(metrics: dict[str, Any], seeds: dict[str, Any] | None, seed: int) -> list[str]:
    if not seeds:
        return []
    runs = {str(seed): {"uar": metrics["mean_over_folds"]["uar"], "accuracy": metrics["mean_over_folds"]["accuracy"],
                        "merged_uar": metrics["boredom_merged_into_neutral"]["mean_over_folds"]["uar"]}}
    runs.update(seeds["seeds"])
    uars = [r["uar"] for r in runs.values()]
    merged = [r["merged_uar"] for r in runs.values()]
    return [
        "",
        f"Seed sensitivity (same options, seeds {', '.join(runs)}; `seed_study` in train_voice.py): 7-class UAR "
        + ", ".join(f"{_pct(r['uar'])}" for r in runs.values())
        + f" (mean {_pct(sum(uars) / len(uars))}, range {_pct(min(uars))}-{_pct(max(uars))}); boredom merged: "
        + ", ".join(f"{_pct(m)}" for m in merged) + f" (mean {_pct(sum(merged) / len(merged))}). With about 50 clips "
        "per held-out speaker (1 to 16 per class) one clip moves a fold's UAR by several points, so differences "
        "of 1-2 points between settings are noise.",
    ]


def write_model_card(path: Path, config: dict[str, Any], metrics: dict[str, Any],
                     seeds: dict[str, Any] | None = None) -> None:
    classes = metrics["classes"]
    merged = metrics["boredom_merged_into_neutral"]
    mean = metrics["mean_over_folds"]
    confusion = metrics["pooled"]["confusion"]
    opts = config["options"]
    lines = [
        "# Voice-emotion model (`models/voice`)",
        "",
        f"Version `{config['version']}`, trained {config['trained_at']}. Files: `{config['weights']}` (PyTorch, "
        f"safetensors), `{config['onnx']}` (ONNX opset {config['onnx_opset']}, fp32, same network), `config.json`, "
        "`loso_metrics.json` (every number below, plus confusion matrices).",
        "",
        "## What it does",
        "Estimates the emotion in a customer's voice from how it sounds (pitch, energy, rhythm, spectrum), "
        "not from the words. Input: the "
        f"{config['feature_dim']}-number summary vector of `assist.inference.voice.summary`: statistics (means, "
        "spreads, percentiles, skew, kurtosis, first and second regression deltas) of 20 MFCCs taken from 80-band "
        "log-mel frames, and of YIN pitch, energy, periodicity, spectral centroid, flatness and high/low-band "
        "balance, plus rhythm (voiced fraction, syllable-nucleus rate, pauses, voiced-segment lengths); 16 kHz, "
        "25 ms frames every 10 ms. The vector is level-independent (spectra and energy relative to the clip's own "
        "level), so microphone gain does not move it as long as the speech stays above -75 dBFS and unclipped. "
        "Network: standardisation (training-set mean/scale, inside the graph), then "
        f"{config['network']['members']} MLPs ({' -> '.join(str(h) for h in config['network']['hidden'])}, GELU, "
        f"dropout) whose softmax outputs are averaged and mixed {1 - config['network']['linear_weight']:.2g} : "
        f"{config['network']['linear_weight']:.2g} with a multinomial logistic regression on the same input "
        f"(class-balanced, C = {opts['linear_c']}). `embedding` ({config['embedding_dim']} numbers) is the MLPs' "
        "last hidden layers, concatenated, for the fusion model. `VoiceModel.analyze` also reports loudness "
        "(active-speech level, -55 dBFS -> 0, -10 dBFS -> 1) and arousal in [0, 1] (the expected value of fixed "
        "per-class arousal placements under the predicted distribution).",
        "",
        "## Data",
        f"EmoDB (Berlin Database of Emotional Speech), the copy in `../shared/data/emodb`: {config['train_clips']} "
        f"clips of {len(config['train_speakers'])} German actors (speakers {', '.join(config['train_speakers'])}), "
        "10 sentences with emotionally neutral wording, each spoken in several emotions, each clip cut or padded "
        "to 2.0 s. Labels come from the file names. Licence: freely distributed for research by its authors. "
        "Nothing from the data set is stored in the repository.",
        "",
        "## Classes",
        f"Trained on 7 EmoDB classes: {', '.join(classes)} (EmoDB happiness is called joy). The app's 7 Ekman classes "
        "are anger, disgust, fear, joy, neutral, sadness, surprise: boredom is reported as neutral (its "
        "probability is added to neutral), and surprise is never trained (EmoDB has none), so the voice model "
        "always gives it probability 0. The raw 7-class distribution, boredom included, is also returned.",
        "",
        "## Evaluation: leave-one-speaker-out",
        "Eight folds: train on 7 speakers, test on the 8th; no speaker is ever in both. **No per-speaker "
        "normalisation**: each clip is normalised only by itself, exactly as at run time, and the "
        "standardisation statistics come from the training speakers. Training clips are augmented "
        f"({opts['augment_copies']} copies each: log-mel frequency axis scaled by 1 +- {opts['max_warp']}, pitch "
        f"shifted by up to +-{opts['max_pitch_shift']} semitones); test clips are used as recorded. UAR = unweighted "
        "average recall (mean of per-class recalls). Caveat: the feature set and the options were chosen by "
        "comparing LOSO results (EmoDB has too few speakers to hold out a separate validation group), so these "
        "figures are somewhat optimistic for new speakers even of the same corpus.",
        "",
        f"**7 classes (boredom kept): UAR {_pct(mean['uar'])} % (mean over folds, std {_pct(mean['uar_std'])}), "
        f"accuracy {_pct(mean['accuracy'])} %.** Target: UAR >= 75 %.",
        "",
        *_class_table(metrics, classes),
        *_seed_lines(metrics, seeds, opts["seed"]),
        "",
        "Per held-out speaker: " + ", ".join(f"{s}: UAR {_pct(v['uar'])} / acc {_pct(v['accuracy'])} ({v['clips']})"
                                             for s, v in metrics["per_speaker"].items()) + ".",
        "",
        f"Same predictions with boredom merged into neutral (the app's view; 6 classes): UAR "
        f"{_pct(merged['mean_over_folds']['uar'])} %, accuracy {_pct(merged['mean_over_folds']['accuracy'])} % "
        "(mean over folds).",
        "",
        *_class_table(merged, merged["classes"]),
        "",
        "Pooled confusion (rows = truth, columns = prediction, order " + ", ".join(confusion["labels"]) + "):",
        "",
        "```",
        *(f"{label:>8} " + " ".join(f"{n:4d}" for n in row) for label, row in zip(confusion["labels"], confusion["matrix"])),
        "```",
        "",
        "## How to reproduce",
        "```",
        "python -c \"from pathlib import Path; from assist.training.train_voice import train_voice; "
        "print(train_voice(Path('../shared/data'), Path('models/voice')))\"",
        "```",
        "Seed sensitivity: `seed_study(Path('../shared/data'), Path('models/voice'), (8, 9))` from the same module "
        "(writes `loso_seeds.json` and refreshes this card).",
        "",
        f"Fixed seed {opts['seed']}; {metrics['seconds']:.0f} s for the LOSO evaluation and "
        f"{config['train_seconds']:.0f} s in all on 2 CPU cores (torch threads: {opts['threads']}). Options: "
        "`VoiceTrainOptions` in `assist/training/train_voice.py` (all values are in `config.json`).",
        "",
        "## Limitations",
        "- German acted speech from 8 speakers (4 women, 4 men), studio quality, 2 s clips. Real "
        "customers on phone lines speak other languages, with spontaneous and far subtler emotion, over "
        "narrow-band codecs and noise: expect much lower accuracy there, and treat the output as a weak signal "
        "to combine with the words.",
        f"- Commonest confusions (pooled, both directions): {_top_confusions(confusion)}.",
        "- No surprise class; no estimate is given when no speech is found (silence, noise, a steady tone) or "
        "for clips under 0.25 s; only the last 30 s of a longer clip is analysed.",
        "- Clipped audio is analysed but flagged: clipping changes the spectrum the model reads.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
