"""Models the user adds: a complete model folder is checked, copied to ``<user data dir>/models/<name>`` and
recorded, with hashes, in ``manifest.json`` there (the shipped manifest's format); only these can be removed.

Kinds: a CTranslate2 Whisper folder (asr), a transformers causal language model (llm), or a text, voice or
fusion model folder as ``assist train`` writes it. Incomplete folders are refused with what is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from assist.domain import ProgressState
from assist.inference.errors import ModelUnavailable
from assist.inference.model_manifest import (
    RUNTIME,
    SHIPPED_NAMES,
    USER,
    ManifestError,
    ModelEntry,
    ModelFile,
    file_record,
    load_user_manifest,
    manifest_text,
    read_config,
    user_manifest_path,
    user_models_dir,
    write_atomic,
)

KINDS = ("asr", "llm", "text", "voice", "fusion")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NOT_COPIED = (".git", ".cache", "__pycache__")  # hub download bookkeeping, not model files


def _looks_like(folder: Path) -> str:
    """The kind a folder most looks like (its completeness is checked after)."""
    names = {p.name for p in folder.iterdir()}
    config: dict[str, Any] = {}
    if "config.json" in names:
        try:
            config = read_config(folder)
        except ManifestError:
            config = {}
    version = str(config.get("version", ""))
    for kind in ("text", "voice", "fusion"):
        if version.startswith(f"{kind}-"):
            return kind
    if names & {"model.bin", "vocabulary.txt", "vocabulary.json"} or "alignment_heads" in config:
        return "asr"
    if "model_type" in config or "architectures" in config or any(n.endswith(".safetensors") for n in names):
        return "llm"
    raise ManifestError(f"{folder} is not a model folder Assist can use: it has no model.bin (a CTranslate2 "
                        "Whisper model), no config.json with a model_type (a transformers language model) and "
                        "no Assist model config. See models/asr/README.md and models/llm/README.md.")


def check_folder(folder: Path, kind: str) -> None:
    """Raise ManifestError unless ``folder`` holds a complete model of ``kind``."""
    try:
        if kind == "asr":
            from assist.inference.asr.whisper import check_model_dir

            check_model_dir(folder)
        elif kind == "llm":
            from assist.inference.llm_checks import inspect_folder

            inspect_folder(folder)
        elif kind in ("text", "voice", "fusion"):
            _check_assist_folder(folder, kind)
        else:
            raise ManifestError(f"Unknown model kind {kind!r}; one of {', '.join(KINDS)}.")
    except ModelUnavailable as exc:
        raise ManifestError(str(exc)) from exc


def _check_assist_folder(folder: Path, kind: str) -> None:
    """A text, voice or fusion model as ``assist train`` writes it: config.json, its ONNX file, the weights."""
    config = read_config(folder)
    if not str(config.get("version", "")).startswith(f"{kind}-"):
        raise ManifestError(f"{folder} is not a {kind} model: its config.json has no {kind}-... version.")
    onnx = config.get("onnx")
    onnx_name = str((onnx.get("file") if isinstance(onnx, dict) else onnx) or "")
    missing = [n for n in ("weights.safetensors", onnx_name) if n and not (folder / n).is_file()]
    if not onnx_name or missing:
        raise ManifestError(f"The {kind} model folder {folder} is incomplete: "
                            f"{', '.join(missing) or 'the ONNX file name in config.json'} missing. "
                            f"Copy the whole folder that `assist train {kind}` wrote.")


def _licence(folder: Path) -> str:
    """A hub model card's ``license:`` line, else a pointer to the folder's own LICENSE file."""
    try:
        card = (folder / "README.md").read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        card = ""
    found = re.search(r"^licen[cs]e:\s*(\S.*)$", card.split("\n---", 1)[0] if card.startswith("---") else "", re.M)
    if found:
        return found.group(1).strip().strip("'\"")
    licence_files = sorted(p.name for p in folder.glob("LICEN[CS]E*"))
    return f"see {licence_files[0]} in the folder" if licence_files else "not stated: check the model's licence"


def _copy(src: Path, dest: Path, state: ProgressState | None) -> None:
    total = sum(p.stat().st_size for p in src.rglob("*") if p.is_file()) or 1
    done = 0

    def copy_file(a: str, b: str) -> str:
        nonlocal done
        if state is not None:
            if state.is_cancelled():
                raise ManifestError("Adding the model was cancelled; nothing was added.")
            state.set_progress(0.9 * done / total, f"copying {Path(a).name}")
        shutil.copy2(a, b)
        done += Path(a).stat().st_size
        return b

    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*NOT_COPIED), copy_function=copy_file)


def add_user_model(path: str | os.PathLike[str], kind: str | None = None, name: str | None = None,
                   state: ProgressState | None = None) -> ModelEntry:
    """Copy a complete model folder into the user's models folder and record it (with hashes) there."""
    src = Path(path).expanduser()
    if not src.is_dir():
        raise ManifestError(f"{src} is not a folder: add the folder that holds the model's files.")
    kind = kind or _looks_like(src)
    check_folder(src, kind)
    name = name or src.resolve().name
    if not NAME_PATTERN.fullmatch(name):
        raise ManifestError(f"{name!r} cannot be a model name: use letters, digits, '.', '_' and '-' (at most 64).")
    if name in SHIPPED_NAMES:
        raise ManifestError(f"{name} is the name of a model that ships with Assist; pick another with --name.")
    added = load_user_manifest()
    if any(e.name == name for e in added):
        raise ManifestError(f"A model called {name} was added already; remove it first "
                            f"(`assist models remove {name}`) or pick another name with --name.")
    root = user_models_dir()
    dest, staging = root / name, root / f".adding-{name}-{os.getpid()}"
    if dest.exists():
        raise ManifestError(f"{dest} exists but is not in the added models' manifest; move it away or pick "
                            "another name with --name.")
    root.mkdir(parents=True, exist_ok=True)
    try:
        _copy(src, staging, state)
        files = tuple(file_record(p.relative_to(staging).as_posix(), staging, RUNTIME)
                      for p in sorted(staging.rglob("*")) if p.is_file())
        staging.rename(dest)
    except (OSError, shutil.Error) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ManifestError(f"Could not copy {src} to {dest} ({exc}); nothing was added.") from exc
    except ManifestError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    config = read_config(dest) if (dest / "config.json").is_file() else {}
    entry = ModelEntry(name, kind, str(config.get("version") or config.get("model_type") or ""),
                       f"added from {src.resolve()} on {time.strftime('%Y-%m-%d')}", _licence(dest),
                       tuple(ModelFile(f"{name}/{f.path}", f.sha256, f.size, f.role) for f in files), USER, root)
    write_atomic(user_manifest_path(), manifest_text([*added, entry], USER))
    if state is not None:
        state.set_progress(1.0, f"added {name}")
    return entry


def model_folder(entry: ModelEntry) -> Path:
    """The folder an added model was copied to."""
    return entry.root / entry.name


def usage_hint(entry: ModelEntry) -> str:
    """How to make Assist use an added model, in words."""
    folder = model_folder(entry)
    return {
        "asr": f'Use it as the speech model: `assist run --asr "{folder}"`, or "asr" in settings.json.',
        "llm": f'Use it for drafted replies: `assist run --llm "{folder}"`, or "llm" in settings.json.',
        "text": f'Use it as the text model: `assist run --model-dir "{folder}"`.',
    }.get(entry.kind, f"It is in {folder}.")


def remove_user_model(name: str) -> Path:
    """Delete an added model's folder and its manifest entry; shipped models are refused. Returns the folder."""
    if name in SHIPPED_NAMES:
        raise ManifestError(f"{name} ships with Assist and cannot be removed; only models added with "
                            "`assist models add` can be.")
    added = load_user_manifest()
    if not any(e.name == name for e in added):
        known = ", ".join(e.name for e in added) or "none"
        raise ManifestError(f"No added model is called {name!r} (added models: {known}).")
    root = user_models_dir().resolve()
    folder = (root / name).resolve()
    if folder.parent != root:  # a hand-edited manifest must never point the delete elsewhere
        raise ManifestError(f"{name!r} is not a folder inside {root}; nothing was removed.")
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ManifestError(f"Could not delete {folder} ({exc.strerror or exc}); close what uses it and try "
                            "again.") from exc
    write_atomic(user_manifest_path(), manifest_text([e for e in added if e.name != name], USER))
    return folder
