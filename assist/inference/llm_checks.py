"""Checks a local language-model folder before loading it: complete, readable, small enough to fit.

Loading a multi-gigabyte checkpoint that is half copied, corrupt or too big for memory fails slowly and
obscurely (an OOM kill, a torch traceback). These checks read only file names, ``config.json`` and the
safetensors headers, so they answer in milliseconds with a message a person can act on.
Stdlib only: nothing here imports torch.
"""

from __future__ import annotations

import ctypes
import json
import math
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assist.inference.errors import ModelUnavailable

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer.tiktoken")
SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_INDEX = "pytorch_model.bin.index.json"
MEMORY_SHARE = 0.8  # refuse a model whose weights need more than this share of the free memory
OVERHEAD = 1.15  # activations, KV cache and runtime buffers on top of the weights
MAX_HEADER_BYTES = 100 * 1024 * 1024
DTYPE_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2,
               "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1, "U8": 1, "BOOL": 1}
GB = 1024**3

MemoryProbe = Callable[[str], "int | None"]


@dataclass(frozen=True)
class FolderReport:
    """What a complete model folder holds: its weight files and an estimate of its size."""

    weights: tuple[Path, ...]
    parameters: int
    model_type: str


def inspect_folder(folder: Path) -> FolderReport:
    """Raise ModelUnavailable unless ``folder`` holds a config, a tokenizer and intact weights."""
    if not folder.is_dir():
        raise ModelUnavailable(f"The language model folder {folder} does not exist.")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelUnavailable(f"The language model folder {folder} is incomplete: config.json is missing.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"The language model config {config_path} is unreadable or corrupt ({exc}).") from exc
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ModelUnavailable(f"The language model folder {folder} is incomplete: no tokenizer "
                               f"(expected one of {', '.join(TOKENIZER_FILES[:3])}, ...).")
    weights = weight_files(folder)
    if all(path.suffix == ".safetensors" for path in weights):
        parameters = sum(safetensors_parameters(path) for path in weights)
    else:  # pickled .bin checkpoints have no cheap header: estimate from the file sizes
        stored = 2 if str(config.get("torch_dtype") or config.get("dtype") or "").endswith("16") else 4
        parameters = sum(path.stat().st_size for path in weights) // stored
    return FolderReport(tuple(weights), parameters, str(config.get("model_type", "unknown")))


def weight_files(folder: Path) -> list[Path]:
    """The checkpoint's weight files (all shards of a sharded one); every one must be present."""
    for index_name in (SAFETENSORS_INDEX, BIN_INDEX):
        index = folder / index_name
        if index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
            except (OSError, ValueError, KeyError, AttributeError) as exc:
                raise ModelUnavailable(f"The weight index {index} is unreadable or corrupt ({exc}).") from exc
            missing = [name for name in shards if not (folder / name).is_file()]
            if missing:
                raise ModelUnavailable(f"The language model folder {folder} is incomplete: {len(missing)} of "
                                       f"{len(shards)} weight files are missing (e.g. {missing[0]}).")
            return [folder / name for name in shards]
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return [folder / name]
    raise ModelUnavailable(f"The language model folder {folder} is incomplete: no weights "
                           "(model.safetensors or pytorch_model.bin).")


def safetensors_parameters(path: Path) -> int:
    """Parameters in one safetensors file, read from its header; raise when the file is corrupt or cut short."""
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            header_len = int.from_bytes(handle.read(8), "little")
            if size < 8 or header_len <= 0 or header_len > min(size - 8, MAX_HEADER_BYTES):
                raise ValueError("bad header length")
            header = json.loads(handle.read(header_len))
        parameters, data_end = 0, 0
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            parameters += math.prod(entry["shape"])
            data_end = max(data_end, int(entry["data_offsets"][1]))
            if entry["dtype"] not in DTYPE_BYTES:
                raise ValueError(f"unknown dtype {entry['dtype']}")
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ModelUnavailable(f"The weights file {path} is corrupt ({exc}); copy or download it again.") from exc
    if 8 + header_len + data_end > size:
        raise ModelUnavailable(f"The weights file {path} is cut short ({size:,} of "
                               f"{8 + header_len + data_end:,} bytes); copy or download it again.")
    return parameters


def available_memory(device: str) -> int | None:
    """Free memory in bytes for ``device`` ("cpu" or "cuda"), or None where it cannot be told."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info()[0])
    if platform.system() == "Linux":
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
    if platform.system() == "Windows":
        return _windows_available_memory()
    return None


def _windows_available_memory() -> int | None:
    class MemoryStatus(ctypes.Structure):
        _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong), ("total_phys", ctypes.c_ulonglong),
                    ("avail_phys", ctypes.c_ulonglong), ("total_page", ctypes.c_ulonglong),
                    ("avail_page", ctypes.c_ulonglong), ("total_virtual", ctypes.c_ulonglong),
                    ("avail_virtual", ctypes.c_ulonglong), ("avail_extended", ctypes.c_ulonglong)]

    status = MemoryStatus()
    status.length = ctypes.sizeof(MemoryStatus)
    ok = ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))  # type: ignore[attr-defined]
    return int(status.avail_phys) if ok else None


def memory_needed(parameters: int, bytes_per_parameter: int) -> int:
    """Bytes the weights take at the given precision, with room for activations and the KV cache."""
    return int(parameters * bytes_per_parameter * OVERHEAD)


def memory_problem(needed: int, free: int | None, where: str) -> str:
    """"" when ``needed`` bytes fit in ``MEMORY_SHARE`` of ``free``, else a sentence saying why not."""
    if free is None or needed <= MEMORY_SHARE * free:
        return ""
    return (f"it needs about {needed / GB:.1f} GB but only {free / GB:.1f} GB of {where} is free "
            f"(at most {MEMORY_SHARE:.0%} is used)")
