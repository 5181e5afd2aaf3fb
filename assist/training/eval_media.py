"""``assist eval voice`` and ``assist eval screen``: the shipped encoders on a folder of files."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import ProgressState
from assist.inference.errors import BadInput

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}


def voice_items(wav_dir: Path | None, csv_path: Path | None) -> list[tuple[Path, str]]:
    """(file, label) pairs: labels from EmoDB file names in ``wav_dir``, or a CSV with columns path,label."""
    from assist.inference.voice.emodb import parse_name

    if csv_path is not None:
        with csv_path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows or not {"path", "label"} <= set(rows[0]):
            raise ValueError(f"{csv_path} needs the columns path,label")
        base = csv_path.parent
        return [((base / r["path"]).resolve(), r["label"].strip().lower()) for r in rows]
    assert wav_dir is not None
    items = []
    for path in sorted(wav_dir.rglob("*")):
        if path.suffix.lower() in AUDIO_SUFFIXES:
            parsed = parse_name(path.name)
            if parsed is not None:
                items.append((path, parsed[2]))
    if not items:
        raise ValueError(f"No EmoDB-named audio files in {wav_dir} (SSTTTEV.wav); use --csv path,label instead.")
    return items


def evaluate_voice(items: list[tuple[Path, str]], state: ProgressState | None = None) -> dict[str, Any]:
    """Accuracy and unweighted average recall of the shipped voice model (app classes and trained classes)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, recall_score

    from assist.inference.voice.emodb import TO_APP
    from assist.inference.voice.model import VoiceModel

    model = VoiceModel()
    truth, predicted, skipped, times = [], [], [], []
    for i, (path, label) in enumerate(items):
        try:
            result = model.analyze_file(path)
        except BadInput as exc:
            skipped.append({"file": path.name, "reason": str(exc)})
            continue
        times.append(result.elapsed_ms)
        if not result.speech_present or result.voice_classes is None:
            skipped.append({"file": path.name, "reason": "no speech"})
            continue
        trained = max(result.voice_classes, key=result.voice_classes.__getitem__)
        truth.append(label)
        predicted.append(trained if label in result.voice_classes else TO_APP.get(trained, trained))
        if state is not None:
            state.set_progress((i + 1) / len(items), "evaluating voice")
    labels = sorted(set(truth) | set(predicted))
    return {
        "model_version": model.version, "provider": model.provider, "files": len(items), "scored": len(truth),
        "skipped": skipped,
        "uar": round(float(recall_score(truth, predicted, labels=sorted(set(truth)), average="macro")), 4) if truth else None,
        "accuracy": round(float(accuracy_score(truth, predicted)), 4) if truth else None,
        "per_class_recall": {c: round(float(r), 4) for c, r in zip(
            sorted(set(truth)), recall_score(truth, predicted, labels=sorted(set(truth)), average=None))} if truth else {},
        "confusion_matrix": {"labels": labels, "rows_gold_cols_pred":
                             confusion_matrix(truth, predicted, labels=labels).tolist() if truth else []},
        "ms_per_file_p50": round(float(np.median(times)), 2) if times else None,
        "note": ("The shipped voice model was trained on all 8 EmoDB speakers in ../shared/data: on those files this "
                 "is training accuracy. The honest figure is leave-one-speaker-out (models/voice/loso_metrics.json)."),
    }


def evaluate_screen(image_dir: Path, truth: Path | None = None, state: ProgressState | None = None) -> dict[str, Any]:
    """OCR every image in ``image_dir``; with ``truth`` (JSON: file name -> expected strings) also line recall."""
    from assist.inference.screen import ScreenReader

    expected: dict[str, list[str]] = json.loads(truth.read_text(encoding="utf-8")) if truth else {}
    files = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"No images in {image_dir}")
    reader = ScreenReader()
    rows, found_total, expected_total, provider = [], 0, 0, None
    for i, path in enumerate(files):
        began = time.perf_counter()
        try:
            result = reader.read(path)
        except BadInput as exc:
            rows.append({"file": path.name, "error": str(exc)})
            continue
        provider = result.provider
        row: dict[str, Any] = {
            "file": path.name, "lines": len(result.lines), "note": result.note,
            "mean_confidence": round(float(np.mean([line.confidence for line in result.lines])), 4) if result.lines else None,
            "entities": [{"kind": e.kind, "value": e.value} for e in result.entities],
            "seconds": round(time.perf_counter() - began, 3)}
        if path.name in expected:
            text = " ".join(" ".join(line.text.split()) for line in result.lines).lower()
            hits = [s for s in expected[path.name] if " ".join(s.split()).lower() in text]
            row["expected_found"] = f"{len(hits)}/{len(expected[path.name])}"
            found_total, expected_total = found_total + len(hits), expected_total + len(expected[path.name])
        rows.append(row)
        if state is not None:
            state.set_progress((i + 1) / len(files), "reading screenshots")
    return {"provider": provider, "images": len(files),
            "expected_strings_found": round(found_total / expected_total, 4) if expected_total else None,
            "per_image": rows}
