"""The voice-emotion network (PyTorch): standardisation + a small ensemble of MLPs, and its ONNX export.

Input: the raw summary vector (``summary.FEATURE_NAMES``). The training-set mean and scale are
buffers inside the network, so the ONNX graph and the PyTorch module take the same input. Outputs:
class probabilities (the MLP members' mean softmax, mixed with a linear member's) and an embedding (the
MLP members' last hidden layers, concatenated) for the fusion model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ONNX_OPSET = 17


def build_voice_net(dim: int, classes: int, hidden: tuple[int, ...] = (256, 32), members: int = 3,
                    dropout: float = 0.3, input_dropout: float = 0.1, linear_weight: float = 0.5) -> Any:
    """``members`` MLPs averaged, mixed with a linear (logistic-regression) member: weight ``linear_weight``."""
    import torch
    from torch import nn

    def member() -> nn.Module:
        layers: list[nn.Module] = [nn.Dropout(input_dropout)]
        width = dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
            width = size
        return nn.ModuleDict({"body": nn.Sequential(*layers), "head": nn.Linear(width, classes)})

    class VoiceNet(nn.Module):
        mean: torch.Tensor  # buffers (standardisation), registered in __init__
        scale: torch.Tensor
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(dim))
            self.register_buffer("scale", torch.ones(dim))
            self.members = nn.ModuleList([member() for _ in range(members)])
            self.linear = nn.Linear(dim, classes)
            self.linear_weight = float(linear_weight)

        def standardise(self, x: torch.Tensor) -> torch.Tensor:
            return (x - self.mean) / self.scale

        def member_logits(self, index: int, z: torch.Tensor) -> torch.Tensor:
            """Logits of one member on standardised input (used in training)."""
            m: Any = self.members[index]
            return m["head"](m["body"](z))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            z = self.standardise(x)
            probs, embeds = [], []
            member: Any
            for member in self.members:
                hidden = member["body"](z)
                embeds.append(hidden)
                probs.append(torch.softmax(member["head"](hidden), dim=-1))
            mixed = torch.stack(probs).mean(0)
            if self.linear_weight > 0:
                linear = torch.softmax(self.linear(z), dim=-1)
                mixed = (1 - self.linear_weight) * mixed + self.linear_weight * linear
            return mixed, torch.cat(embeds, dim=-1)

    return VoiceNet()


def save_weights(net: Any, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().float().contiguous().cpu() for k, v in net.state_dict().items()}, str(path))


def load_weights(net: Any, path: Path) -> None:
    """Load safetensors weights; any mismatch raises (callers turn it into ModelUnavailable)."""
    from safetensors.torch import load_file

    net.load_state_dict(load_file(str(path)), strict=True)


def export_onnx(net: Any, dim: int, path: Path) -> None:
    """fp32 ONNX (opset 17) with a dynamic batch axis; inputs ``features``, outputs ``probabilities``, ``embedding``."""
    import warnings

    import torch

    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but needs no onnxscript
        torch.onnx.export(
            net, (torch.zeros(1, dim),), str(path), opset_version=ONNX_OPSET, dynamo=False,
            input_names=["features"], output_names=["probabilities", "embedding"],
            dynamic_axes={"features": {0: "batch"}, "probabilities": {0: "batch"}, "embedding": {0: "batch"}},
        )
