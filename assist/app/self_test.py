"""``assist --self-test``: proves an installed Assist works on this machine, and says what does not.

Imports the runtime libraries, loads every shipped model, reads text off an image it draws, transcribes the clip it
ships, analyses a sample message, builds the main window offscreen, and writes a JSON report (versions, providers,
timings, pass/fail per check; under "packages" every Python distribution it runs with, and its version). Exit 0 only
when every check passed. The default runtime must not import torch: that is checked too (the optional drafting model
is the only part that needs it).
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assist.paths import ROOT

REPO = ROOT
CLIP = REPO / "resources" / "selftest" / "clip.wav"
CLIP_WORDS = ("package", "refund")
RUNTIME_LIBRARIES = ("numpy", "onnxruntime", "ctranslate2", "tokenizers", "cv2", "rapidocr", "sounddevice",
                     "soundfile", "sqlite_utils", "PySide6")


class Checks:
    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []

    def run(self, name: str, check: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
        start = time.perf_counter()
        try:
            detail = check() or {}
            entry = {"check": name, "ok": True, **detail}
        except Exception as exc:  # noqa: BLE001 - every failure is a result to report, not a crash
            detail = None
            entry = {"check": name, "ok": False, "error": f"{type(exc).__name__}: {exc}",
                     "trace": traceback.format_exc(limit=3)}
        entry["seconds"] = round(time.perf_counter() - start, 3)
        self.results.append(entry)
        return detail

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.results)


def _libraries() -> dict[str, Any]:
    import importlib

    versions = {}
    for name in RUNTIME_LIBRARIES:
        module = importlib.import_module(name)
        versions[name] = str(getattr(module, "__version__", "") or "?")
    import onnxruntime
    import sounddevice

    return {"versions": versions, "onnxruntime_providers": onnxruntime.get_available_providers(),
            "portaudio": sounddevice.get_portaudio_version()[1]}


def _text_model(state: dict[str, Any]) -> dict[str, Any]:
    from assist.inference.text_onnx import OnnxTextModel

    model = OnnxTextModel(threads=1)
    state["text"] = model
    result = model.analyze(["This is the third time my package is late, I want my money back NOW"])[0]
    top = max(result.emotion, key=result.emotion.get)
    intent = max(result.intent, key=result.intent.get)
    if top != "anger":
        raise AssertionError(f"the sample complaint read as {top}, not anger")
    from assist.inference.chat_text import model_input

    named = model_input("it worked 🎉")  # the emoji names ship with the app (the emoji package's data)
    if named != "it worked party popper":
        raise AssertionError(f"emoji are not read as words: {named!r}")
    return {"version": model.version, "provider": model.provider, "emotion": top, "intent": intent}


def _model_files() -> dict[str, Any]:
    """Every model file against models/manifest.json (sizes and sha256): a changed byte, a truncated prior or a
    garbage manifest fails here instead of silently changing what the app reads."""
    from assist.inference.model_manifest import verify

    checks = verify()
    bad = [f"{c.name}: {c.problem}" for c in checks if not c.ok]
    if bad:
        raise AssertionError("; ".join(bad))
    return {"models": [c.name for c in checks], "notes": [f"{c.name}: {c.note}" for c in checks if c.note]}


def _voice_and_fusion() -> dict[str, Any]:
    import numpy as np

    from assist.inference.fusion.model import FusionModel
    from assist.inference.voice.model import VoiceModel

    voice = VoiceModel()
    fusion = FusionModel(prefer_gpu=True)
    rng = np.random.default_rng(0)
    analysis = voice.analyze((0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    return {"voice": getattr(voice, "version", "?"), "fusion": getattr(fusion, "version", "?"),
            "voice_note": getattr(analysis, "note", "")}


def _ocr() -> dict[str, Any]:
    import cv2
    import numpy as np

    from assist.inference.screen.ocr import ScreenReader

    image = np.full((220, 900, 3), 255, dtype=np.uint8)
    cv2.putText(image, "Order 4471-2290 Delayed", (30, 90), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (20, 20, 20), 3)
    cv2.putText(image, "Refund of $42.50 pending", (30, 170), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (20, 20, 20), 3)
    reader = ScreenReader()
    found = reader.read(image)
    if "delayed" not in found.text.lower() or "4471" not in found.text:
        raise AssertionError(f"OCR read {found.text!r} off the test image")
    return {"provider": found.provider, "text": found.text, "entities": [e.kind for e in found.entities]}


def _asr() -> dict[str, Any]:
    from assist.capture.audio import read_wav
    from assist.inference.asr import load_asr

    engine = load_asr(threads=2)
    samples, rate = read_wav(CLIP)
    samples = samples.mean(axis=1) if samples.ndim == 2 else samples
    text = engine.transcribe(samples, rate).text
    missing = [w for w in CLIP_WORDS if w not in text.lower()]
    if missing:
        raise AssertionError(f"the clip was heard as {text!r} (missing: {', '.join(missing)})")
    return {"engine": engine.describe() if hasattr(engine, "describe") else type(engine).__name__,
            "device": getattr(engine, "device", "?"), "text": text}


def _window() -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from assist.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.show()
    app.processEvents()
    size = (window.width(), window.height())
    window.close()
    return {"platform": app.platformName(), "size": list(size)}


def _no_torch() -> dict[str, Any]:
    loaded = sorted(m for m in ("torch", "transformers") if m in sys.modules)
    if loaded:
        raise AssertionError(f"the runtime imported {', '.join(loaded)} (only the optional drafting model needs it)")
    return {}


def installed_packages() -> dict[str, str]:
    """Every Python distribution this interpreter can see, by normalised name (``pyside6-essentials``), with its
    version: in a dev environment what requirements/lock.txt installed; in a frozen bundle only the packages whose
    metadata PyInstaller carried (the "runtime libraries" check reports the modules' own versions as well)."""
    from importlib.metadata import distributions

    found: dict[str, str] = {}
    for dist in distributions():  # in sys.path order: the first of a name is the one that is imported
        name = dist.metadata["Name"]
        if name:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), dist.version)
    return dict(sorted(found.items()))


def environment() -> dict[str, Any]:
    """The head of the report: what ran the checks."""
    from assist._version import __version__

    try:
        packages: dict[str, str] | str = installed_packages()
    except Exception as exc:  # noqa: BLE001 - a broken metadata folder must not lose the report
        packages = f"unreadable: {type(exc).__name__}: {exc}"
    return {"assist": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
            "frozen": bool(getattr(sys, "frozen", False)), "packages": packages}


def run_self_test(report_path: str | None = None) -> int:
    """Run every check, print a line per check, write the JSON report; 0 when all passed."""
    checks, state = Checks(), {}
    started = time.perf_counter()
    checks.run("runtime libraries", _libraries)
    checks.run("model files match the manifest", _model_files)
    checks.run("text model (ONNX) analyses a complaint", lambda: _text_model(state))
    checks.run("voice and fusion models load and run", _voice_and_fusion)
    checks.run("OCR reads an image it draws", _ocr)
    checks.run("speech recognition transcribes the shipped clip", _asr)
    checks.run("main window builds offscreen", _window)
    checks.run("torch not imported by the runtime", _no_torch)
    head = environment()
    packages = head.pop("packages")
    report = {**head, "ok": checks.ok, "seconds": round(time.perf_counter() - started, 2), "checks": checks.results,
              "packages": packages}
    for result in checks.results:
        mark = "PASS" if result["ok"] else "FAIL"
        print(f"{mark}  {result['check']} ({result['seconds']:.2f} s)" + ("" if result["ok"] else
                                                                            f": {result['error']}"))
    path = Path(report_path) if report_path else Path.cwd() / "assist-self-test.json"
    try:
        path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"report: {path}")
    except OSError as exc:
        print(f"the report could not be written to {path}: {exc}", file=sys.stderr)
        return 1
    print("all checks passed" if checks.ok else "SELF-TEST FAILED")
    return 0 if checks.ok else 1
