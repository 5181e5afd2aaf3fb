"""The text model on onnxruntime: what the app runs per message (torch is needed only to export).

One graph holds the whole text path: MiniLM's embeddings and frozen bottom layer, the original top
layers (sentence embedding for knowledge-base retrieval) and the tuned top layers with every head.
``assist export text`` writes it from the PyTorch artifacts (``weights.safetensors`` + the packaged
encoder) as fp32, then quantises the weights to int8 (dynamic, per channel): 32 MB instead of 126 MB
and about 2.5x faster on a 2-core CPU, with the metrics re-measured on the int8 graph
(``metrics_onnx.json``). Tokens come from the encoder's ``tokenizer.json`` through ``tokenizers``,
so loading this engine imports neither torch nor transformers.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from assist.domain import EKMAN_EMOTIONS, SENTIMENTS
from assist.inference.errors import ModelUnavailable
from assist.inference.fusion.features import text_features
from assist.inference.labels import INTENTS
from assist.inference.runtime import make_session as runtime_session
from assist.inference.text_model import (
    TextAnalysis,
    clean_context,
    default_model_dir,
    load_config,
    prepare_text,
)

ONNX_FILE = "text.int8.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids", "pool_mask")
OUTPUTS = ("embedding", "emotion", "emotion_goemotions", "sentiment", "intent", "text_vector")
OPSET = 17
MAX_TOKENS = 128
BULK_EMBED = 8  # from this many texts, embed() uses the embedding-only graph


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def tokenizer_file(encoder_source: str | None = None) -> Path:
    from assist.inference.encoder import resolve_encoder_source

    path = Path(resolve_encoder_source(encoder_source)) / "tokenizer.json"
    if not path.is_file():
        raise ModelUnavailable(f"The text tokenizer {path} is missing.")
    return path


class FastTokenizer:
    """The encoder's own ``tokenizer.json`` (same ids as transformers' fast tokenizer), no padding to 128."""

    def __init__(self, path: Path, max_tokens: int = MAX_TOKENS) -> None:
        from tokenizers import Tokenizer

        try:
            self.tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - tokenizers raises its own exception type
            raise ModelUnavailable(f"The text tokenizer {path} is unreadable: {exc}") from exc
        self.tok.no_padding()  # the shipped file pads every input to 128 tokens: 3-6x the work
        self.tok.enable_truncation(max_tokens, strategy="longest_first")

    def __call__(self, texts: list[str], contexts: list[str] | None = None) -> dict[str, np.ndarray]:
        if contexts is not None and any(contexts):
            encodings = self.tok.encode_batch(list(zip(texts, contexts)))
        else:
            encodings = self.tok.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        shape = (len(encodings), width)
        ids, mask, types = (np.zeros(shape, dtype=np.int64) for _ in range(3))
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        pool = mask * (types == 0)
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "pool_mask": pool}


def make_session(path: Path, threads: int = 1, prefer_gpu: bool = True) -> Any:
    return runtime_session(path, "text model", threads, prefer_gpu, "Run 'assist export text' or reinstall.")


class OnnxTextModel:
    """Same interface as ``TextModel`` (analyze / embed / version / device), on onnxruntime."""

    def __init__(self, model_dir: str | Path | None = None, encoder_source: str | None = None,
                 device: str = "auto", onnx_file: str | None = None, threads: int = 1) -> None:
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.config = load_config(self.model_dir)
        self.onnx_path = self.model_dir / (onnx_file or self.config.get("onnx", {}).get("file", ONNX_FILE))
        self.tokenizer = FastTokenizer(tokenizer_file(encoder_source or self.config.get("encoder_source") or None))
        self.session = make_session(self.onnx_path, threads, prefer_gpu=device != "cpu")
        self.provider = self.session.get_providers()[0]
        self.device = "cuda" if self.provider == "CUDAExecutionProvider" else "cpu"
        if device == "cuda" and self.device != "cuda":
            raise ModelUnavailable("CUDA was requested but onnxruntime cannot use it here.")
        self.version = f"{self.config.get('version', 'unknown')}+onnx-int8"
        self.context_turns = int(self.config.get("context_turns", 0))
        self.backend = "onnx"
        self.threads = threads
        self._embed_session: Any = None
        self._embed_lock = threading.Lock()

    def weights_sha256(self) -> str:
        return hashlib.sha256(self.onnx_path.read_bytes()).hexdigest()

    def run(self, texts: list[str], contexts: list[str] | None = None) -> dict[str, np.ndarray]:
        """Raw graph outputs (logits, embedding, text vector) for cleaned texts, one row at a time.

        Dynamic int8 quantisation scales each activation by the range of the whole batch (padding
        included), so a message batched with others would get slightly different scores than alone.
        Rows run one by one: a message's result never depends on its neighbours, and evaluation
        measures exactly what the app computes.
        """
        rows = []
        for i, text in enumerate(texts):
            feeds = self.tokenizer([text], [contexts[i]] if contexts and contexts[i] else None)
            rows.append(self.session.run(list(OUTPUTS), feeds))
        return {name: np.concatenate([r[k] for r in rows]) for k, name in enumerate(OUTPUTS)}

    def analyze(self, texts: list[str], contexts: list[str] | None = None,
                emotion_head: str = "emotion") -> list[TextAnalysis]:
        start = time.perf_counter()
        cleaned = [prepare_text(t) for t in texts]
        context_list = [clean_context(c) for c in contexts] if contexts else [""] * len(texts)
        results: list[TextAnalysis | None] = [None] * len(texts)
        for group in ([i for i, c in enumerate(context_list) if c], [i for i, c in enumerate(context_list) if not c]):
            if not group:
                continue
            ctx = [context_list[i] for i in group]
            out = self.run([cleaned[i] for i in group], ctx if any(ctx) else None)
            probs = {k: _softmax(out[k].astype(np.float32)) for k in (emotion_head, "sentiment", "intent")}
            features = text_features(out)
            for row, i in enumerate(group):
                results[i] = TextAnalysis(
                    emotion=dict(zip(EKMAN_EMOTIONS, map(float, probs[emotion_head][row]))),
                    sentiment=dict(zip(SENTIMENTS, map(float, probs["sentiment"][row]))),
                    intent=dict(zip(INTENTS, map(float, probs["intent"][row]))),
                    embedding=out["embedding"][row].astype(np.float32),
                    elapsed_ms=0.0,
                    features=features[row],
                )
        elapsed = (time.perf_counter() - start) * 1000 / max(1, len(texts))
        return [TextAnalysis(r.emotion, r.sentiment, r.intent, r.embedding, elapsed, r.features)
                for r in results if r is not None]

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Retrieval embeddings, one row at a time (see ``run``). Bulk calls (a KB import) go through the graph
        cut down to the embedding, which skips the tuned layers and heads: the same vectors, about 35% sooner."""
        session = self._embedding_session() if len(texts) >= BULK_EMBED else None
        if session is None:
            out = [self.run([prepare_text(t) for t in texts[i : i + batch_size]])["embedding"]
                   for i in range(0, len(texts), batch_size)]
            return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), dtype=np.float32)
        names = [i.name for i in session.get_inputs()]
        rows = []
        for text in texts:
            feeds = self.tokenizer([prepare_text(text)])
            rows.append(session.run(["embedding"], {k: feeds[k] for k in names})[0])
        return np.concatenate(rows).astype(np.float32)

    def _embedding_session(self) -> Any:
        """The embedding-only graph (built once, on the first bulk call); None where the ``onnx`` package is
        missing (the full graph then serves)."""
        with self._embed_lock:
            if self._embed_session is None:
                try:
                    import onnx
                    import onnx.utils
                except ImportError:
                    self._embed_session = False
                    return None
                full = onnx.load(str(self.onnx_path))
                sub = onnx.utils.Extractor(full).extract_model([i.name for i in full.graph.input], ["embedding"])
                self._embed_session = runtime_session(sub.SerializeToString(), "text model (embedding)", self.threads,
                                                      self.device == "cuda", "Run 'assist export text' or reinstall.")
            return self._embed_session or None


def load_text_model(model_dir: str | Path | None = None, encoder_source: str | None = None,
                    device: str = "auto", backend: str = "auto", threads: int = 1) -> Any:
    """The app's text model: ONNX when its file is there and matches the weights, else PyTorch.

    ``backend`` is ``auto``, ``onnx`` or ``torch``. ``auto`` falls back to PyTorch (slower, same
    interface) when the ONNX file is missing or was exported from other weights; the reason is kept in
    ``fallback_reason`` for the log and status bar.
    """
    from assist.inference.text_model import WEIGHTS_FILE, TextModel

    directory = Path(model_dir) if model_dir else default_model_dir()
    if backend not in ("auto", "onnx", "torch"):
        raise ValueError(f"unknown backend {backend!r} (auto, onnx or torch)")
    reason = ""
    if backend == "auto":
        config = load_config(directory)
        onnx = config.get("onnx", {})
        path = directory / onnx.get("file", ONNX_FILE)
        weights = directory / WEIGHTS_FILE
        if not path.is_file():
            reason = f"{path.name} not found"
        elif weights.is_file() and onnx.get("source_weights_sha256") not in (
                None, hashlib.sha256(weights.read_bytes()).hexdigest()):
            reason = f"{path.name} was exported from other weights (run 'assist export text')"
        else:
            backend = "onnx"
    if backend == "onnx":
        return OnnxTextModel(directory, encoder_source, device, threads=threads)
    model = TextModel(directory, encoder_source, device)
    model.fallback_reason = reason
    return model


# ---- export (needs torch; used by `assist export text` and the tests) ---------------------------------


def build_export_graph(model: Any) -> Any:
    """A torch module with the ONNX graph's inputs and outputs, from a loaded ``TextModel``."""
    import torch

    from assist.inference.encoder import mean_pool, run_layers

    class TextGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            enc = model.encoder
            self.embeddings = enc.model.embeddings
            self.bottom = torch.nn.ModuleList(enc.layers[: enc.split])
            self.original = torch.nn.ModuleList(enc.layers[enc.split :])
            self.tuned = model.tuned
            self.heads = model.heads

        def forward(self, input_ids, attention_mask, token_type_ids, pool_mask):  # noqa: ANN001, ANN202
            hidden = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            hidden = run_layers(self.bottom, hidden, attention_mask)
            original = run_layers(self.original, hidden, attention_mask)
            embedding = torch.nn.functional.normalize(mean_pool(original, pool_mask), dim=-1)
            vector = mean_pool(run_layers(self.tuned, hidden, attention_mask), pool_mask)
            logits = self.heads(vector)
            return (embedding, logits["emotion"], logits["emotion_goemotions"], logits["sentiment"],
                    logits["intent"], vector)

    return TextGraph().eval()


def export_text_onnx(model_dir: Path | None = None, out_dir: Path | None = None, quantize: bool = True,
                     encoder_source: str | None = None) -> dict[str, Any]:
    """Export ``models/text`` to ONNX (fp32, then int8 unless ``quantize=False``); returns file facts."""
    import warnings

    import torch

    from assist.inference.text_model import TextModel

    model_dir = Path(model_dir) if model_dir else default_model_dir()
    out_dir = Path(out_dir) if out_dir else model_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    model = TextModel(model_dir, encoder_source, device="cpu")
    graph = build_export_graph(model)
    batch = model.encoder.tokenize(["export sample, two rows", "a second one"], ["with context", ""])
    args = (batch.input_ids, batch.attention_mask, batch.token_type_ids, batch.pool_mask)
    fp32 = out_dir / "text.fp32.onnx"
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but needs no onnxscript
        torch.onnx.export(graph, args, str(fp32), input_names=list(INPUTS), output_names=list(OUTPUTS),
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in INPUTS}
                          | {n: {0: "batch"} for n in OUTPUTS},
                          opset_version=OPSET, dynamo=False)
    facts: dict[str, Any] = {"fp32": fp32.name, "opset": OPSET,
                             "source_weights_sha256": model.weights_sha256()}
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = out_dir / ONNX_FILE
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        fp32.unlink()
        facts |= {"file": int8.name, "quantization": "dynamic int8, per channel (onnxruntime.quantization)",
                  "sha256": hashlib.sha256(int8.read_bytes()).hexdigest()}
    else:
        facts["file"] = fp32.name
    return facts


def record_export(model_dir: Path, facts: dict[str, Any]) -> None:
    """Store the export facts in the model's config.json (``onnx`` key)."""
    path = model_dir / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["onnx"] = {k: v for k, v in facts.items() if k != "fp32"}
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
