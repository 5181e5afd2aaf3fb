"""The voice-emotion engine: audio -> features -> network -> :class:`VoiceAnalysis`.

Loads ``models/voice`` (``config.json``, ``voice.onnx`` and/or ``weights.safetensors``). The network
runs on onnxruntime (CUDA provider when it works, else CPU) or, with ``backend="torch"``, on PyTorch;
the analysis says which provider it used. No speech -> no emotion estimate, never a guess.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assist.inference.errors import BadInput, InferenceError, ModelUnavailable
from assist.inference.runtime import make_session
from assist.inference.voice.audio import MAX_SECONDS, load_audio, prepare_audio
from assist.inference.voice.emodb import to_app_distribution
from assist.inference.voice.features import Prosody, VoiceFeatures, features_from_audio
from assist.inference.voice.summary import FEATURE_DIM, FEATURE_NAMES
from assist.paths import model_dir

CONFIG_FILE = "config.json"
# where each class sits on the arousal axis (circumplex placements, approximate): arousal = expected value
AROUSAL = {"anger": 0.9, "boredom": 0.1, "disgust": 0.5, "fear": 0.8, "joy": 0.75, "neutral": 0.35,
           "sadness": 0.2, "surprise": 0.85}


def default_model_dir() -> Path:
    return model_dir("voice")


@dataclass(frozen=True)
class VoiceAnalysis:
    speech_present: bool
    emotion: dict[str, float] | None  # the app's 7 Ekman classes; None when there is no speech
    voice_classes: dict[str, float] | None  # the trained classes (boredom included); None without speech
    arousal: float | None  # [0, 1], expected arousal of the emotion distribution; None without speech
    loudness: float  # [0, 1], level of the active speech (0 = silent)
    prosody: Prosody
    embedding: np.ndarray | None  # (embedding_dim,) float32 for the fusion model; None without speech
    warnings: tuple[str, ...]  # e.g. clipping, DC offset, "no speech found ..."
    seconds: float  # audio analysed (16 kHz)
    provider: str  # e.g. "CPUExecutionProvider", "CUDAExecutionProvider", "torch:cpu"
    elapsed_ms: float  # preprocessing + features + network

    @property
    def label(self) -> str | None:
        return max(self.emotion, key=self.emotion.__getitem__) if self.emotion else None

    @property
    def message(self) -> str:
        """One line for a person: the estimate, or why there is none."""
        if not self.speech_present:
            return "no speech"
        return f"voice: {self.label}"


def load_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / CONFIG_FILE
    if not path.is_file():
        raise ModelUnavailable(f"The voice model is missing: no {CONFIG_FILE} in {model_dir}. "
                               "Train it with train_voice (see models/voice/MODEL_CARD.md).")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        classes = list(config["classes"])
        dim = int(config["feature_dim"])
        names = tuple(config["feature_names"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailable(f"The voice model's {CONFIG_FILE} in {model_dir} is unreadable or corrupt ({exc}).") from exc
    if dim != FEATURE_DIM or names != FEATURE_NAMES or not classes:
        raise ModelUnavailable(f"The voice model in {model_dir} was trained with different features than this "
                               "version computes; retrain it with train_voice.")
    return config


class _OnnxRunner:
    def __init__(self, path: Path) -> None:
        # a few thousand multiply-adds: one thread (more would only add latency)
        self.session = make_session(path, "voice model", threads=1)
        self.provider = self.session.get_providers()[0]

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs, embedding = self.session.run(["probabilities", "embedding"], {"features": x})
        return probs, embedding


class _TorchRunner:
    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        try:
            import torch
        except ImportError as exc:
            raise ModelUnavailable("PyTorch is not installed.") from exc
        from assist.inference.voice.network import build_voice_net, load_weights

        if not path.is_file():
            raise ModelUnavailable(f"The voice model file {path} is missing.")
        net = config.get("network", {})
        self.net = build_voice_net(FEATURE_DIM, len(config["classes"]), tuple(net.get("hidden", (256, 32))),
                                   int(net.get("members", 3)), linear_weight=float(net.get("linear_weight", 0.0)))
        try:
            load_weights(self.net, path)
        except Exception as exc:  # noqa: BLE001 - safetensors / torch raise several types
            raise ModelUnavailable(f"The voice model file {path.name} is corrupt or does not match "
                                   f"config.json ({exc}).") from exc
        self.net.eval()
        self.provider = "torch:cpu"
        self._torch = torch

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self._torch.inference_mode():
            probs, embedding = self.net(self._torch.from_numpy(x))
        return probs.numpy(), embedding.numpy()


class VoiceModel:
    """preprocess (resample, check) -> features -> network -> postprocess (app classes, arousal)."""

    def __init__(self, model_dir: str | Path | None = None, backend: str = "auto") -> None:
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.config = load_config(self.model_dir)
        self.classes: tuple[str, ...] = tuple(self.config["classes"])
        self.version = str(self.config.get("version", "unknown"))
        self.embedding_dim = int(self.config["embedding_dim"])
        if backend == "auto":
            try:
                import onnxruntime  # noqa: F401
                backend = "onnx"
            except ImportError:
                backend = "torch"
        if backend == "onnx":
            self._run: _OnnxRunner | _TorchRunner = _OnnxRunner(self.model_dir / self.config.get("onnx", "voice.onnx"))
        elif backend == "torch":
            self._run = _TorchRunner(self.model_dir / self.config.get("weights", "weights.safetensors"), self.config)
        else:
            raise ValueError(f"unknown backend {backend!r} (auto, onnx or torch)")
        self.backend = backend
        self.provider = self._run.provider
        self._warm_up()

    def _warm_up(self) -> None:
        """Run one synthetic clip so the first real call does not pay for scipy imports and FFT plans."""
        t = np.arange(8000, dtype=np.float32) / 16_000
        self.analyze(0.1 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t)), 16_000)

    def predict_vectors(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw network outputs for summary vectors (N, FEATURE_DIM): probabilities over ``classes``, embeddings."""
        x = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, FEATURE_DIM))
        if not np.isfinite(x).all():
            raise BadInput("The voice features contain NaN or infinite values.")
        probs, embedding = self._run(x)
        if not (np.isfinite(probs).all() and np.isfinite(embedding).all()):
            raise InferenceError("The voice model produced invalid numbers.")
        return probs, embedding

    def analyze_features(self, features: VoiceFeatures, began: float | None = None) -> VoiceAnalysis:
        began = time.perf_counter() if began is None else began
        common: dict[str, Any] = {"loudness": features.loudness, "prosody": features.prosody, "warnings": features.warnings,
                  "seconds": features.audio.seconds, "provider": self.provider}
        if not features.speech_present:
            return VoiceAnalysis(speech_present=False, emotion=None, voice_classes=None, arousal=None, embedding=None,
                                 elapsed_ms=(time.perf_counter() - began) * 1000, **common)
        probs, embedding = self.predict_vectors(features.vector)
        voice = {c: float(p) for c, p in zip(self.classes, probs[0])}
        return VoiceAnalysis(
            speech_present=True, emotion=to_app_distribution(voice), voice_classes=voice,
            arousal=float(sum(p * AROUSAL.get(c, 0.5) for c, p in voice.items())), embedding=embedding[0],
            elapsed_ms=(time.perf_counter() - began) * 1000, **common,
        )

    def analyze(self, samples: np.ndarray, sample_rate: int, max_seconds: float = MAX_SECONDS) -> VoiceAnalysis:
        """Analyse raw samples (any rate, mono or (frames, channels), int or float). Raises BadInput subclasses
        for clips that cannot be analysed (too short, NaN-ridden, impossible rate)."""
        began = time.perf_counter()
        return self.analyze_features(features_from_audio(prepare_audio(samples, sample_rate, max_seconds)), began)

    def analyze_file(self, path: str | Path, max_seconds: float = MAX_SECONDS) -> VoiceAnalysis:
        began = time.perf_counter()
        return self.analyze_features(features_from_audio(load_audio(path, max_seconds)), began)
