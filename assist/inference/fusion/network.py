"""The fusion network (PyTorch): modality tokens + cross-modal attention + multi-task heads.

Tokens: a learned summary token, the text token, up to three context tokens (one per previous turn,
with an embedding for its distance), the voice token and the screen token. Each modality has its own
projection and a modality embedding. Two pre-norm attention layers let every token attend to every
present token; absent tokens are masked out as keys, so any subset of modalities works (the summary
token is always present). The heads read the summary token: emotion (7), sentiment (3), intent (27)
and escalation (1 logit: risk of escalation, medium or high). Per-head temperatures (buffers, fitted
on held-out data after training) are applied in the graph, so exported logits are calibrated.

Attention is written out (no ``nn.MultiheadAttention`` fast path) so the ONNX export is plain ops.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from assist.inference.fusion.features import CONTEXT_DIM, CONTEXT_TURNS, SCREEN_DIM, TEXT_DIM, VOICE_DIM

HEADS = {"emotion": 7, "sentiment": 3, "intent": 27, "escalation": 1}
INPUT_NAMES = ("text", "text_present", "context", "context_present", "voice", "voice_present", "screen",
               "screen_present")
OUTPUT_NAMES = tuple(HEADS)
MASKED = -1e4


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + key_bias[:, None, None, :]
        weights = self.dropout(torch.softmax(scores, dim=-1))
        return self.out((weights @ v).transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = Attention(dim, heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm1(x), key_bias))
        return x + self.dropout(self.mlp(self.norm2(x)))


def _projection(dim_in: int, dim: int, dropout: float) -> nn.Module:
    return nn.Sequential(nn.LayerNorm(dim_in), nn.Dropout(dropout), nn.Linear(dim_in, dim), nn.GELU(),
                         nn.Linear(dim, dim))


class FusionNet(nn.Module):
    temperature: torch.Tensor  # a buffer: one calibration temperature per head
    def __init__(self, dim: int = 128, layers: int = 2, heads: int = 4, dropout: float = 0.1,
                 input_dropout: float = 0.2) -> None:
        super().__init__()
        self.config = {"dim": dim, "layers": layers, "heads": heads, "dropout": dropout,
                       "input_dropout": input_dropout}
        self.text = _projection(TEXT_DIM, dim, input_dropout)
        self.context = _projection(CONTEXT_DIM, dim, input_dropout)
        self.voice = _projection(VOICE_DIM, dim, input_dropout)
        self.screen = _projection(SCREEN_DIM, dim, input_dropout)
        # summary, text, context turns 1..3, voice, screen
        self.token_embedding = nn.Parameter(torch.randn(3 + CONTEXT_TURNS + 1, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.heads = nn.ModuleDict({name: nn.Linear(dim, n) for name, n in HEADS.items()})
        self.register_buffer("temperature", torch.ones(len(HEADS)))

    def forward(self, text: torch.Tensor, text_present: torch.Tensor, context: torch.Tensor,
                context_present: torch.Tensor, voice: torch.Tensor, voice_present: torch.Tensor,
                screen: torch.Tensor, screen_present: torch.Tensor) -> tuple[torch.Tensor, ...]:
        b = text.shape[0]
        summary = torch.zeros(b, 1, self.token_embedding.shape[1], dtype=text.dtype, device=text.device)
        tokens = torch.cat([summary, self.text(text)[:, None], self.context(context), self.voice(voice)[:, None],
                            self.screen(screen)[:, None]], dim=1) + self.token_embedding
        present = torch.cat([torch.ones_like(text_present)[:, None], text_present[:, None], context_present,
                             voice_present[:, None], screen_present[:, None]], dim=1)
        key_bias = (1.0 - present) * MASKED
        for block in self.blocks:
            tokens = block(tokens, key_bias)
        pooled = self.norm(tokens[:, 0])
        return tuple(self.heads[name](pooled) / self.temperature[i] for i, name in enumerate(HEADS))


def export_onnx(net: FusionNet, path: Path, opset: int = 17) -> None:
    import warnings

    from assist.inference.fusion.features import FusionInputs

    net = net.eval()
    sample = FusionInputs.stack([FusionInputs.one(), FusionInputs.one()])
    args = tuple(torch.from_numpy(v) for v in sample.feeds().values())
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but needs no onnxscript
        torch.onnx.export(net, args, str(path), input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                          dynamic_axes={n: {0: "batch"} for n in (*INPUT_NAMES, *OUTPUT_NAMES)},
                          opset_version=opset, dynamo=False)


def save_weights(net: FusionNet, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(path))


def load_net(path: Path, config: dict[str, Any]) -> FusionNet:
    from safetensors.torch import load_file

    net = FusionNet(**config)
    net.load_state_dict(load_file(str(path)))
    return net.eval()
