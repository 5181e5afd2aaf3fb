"""Speech recognition for live calls: Whisper on CTranslate2 (``whisper``), PocketSphinx as the fallback
(``sphinx``), the shared :class:`Transcript` and input check (``transcript``), the numpy log-mel (``mel``)
and the WER evaluation (``evaluate``). Qt-free; ctranslate2 and pocketsphinx are imported lazily.

``load_asr`` picks the best recogniser that loads and says on ``fallback_reason`` what it had to skip.
"""

from __future__ import annotations

from pathlib import Path

from assist import paths
from assist.inference.asr.sphinx import PocketSphinxEngine
from assist.inference.asr.transcript import Transcript, Word
from assist.inference.asr.whisper import DEFAULT_BEAM_SIZE, WhisperEngine, default_model_dir
from assist.inference.errors import ModelUnavailable

__all__ = ["PocketSphinxEngine", "Transcript", "WhisperEngine", "Word", "load_asr", "models_dir", "resolve_source"]

ENGINES = ("whisper", "pocketsphinx")


def models_dir() -> Path:
    """The repository's models/asr folder, where larger CTranslate2 Whisper folders may be dropped."""
    return paths.model_dir("asr")


def resolve_source(source: str | Path | None) -> Path | None:
    """A folder for ``source``: a path as given, else models/asr/<source>; None means the shipped tiny.en.

    Raises :class:`ModelUnavailable` when a folder was asked for and is not there: a typo in the settings
    should be fixed, not hidden behind a weaker model.
    """
    if source is None or str(source).strip() == "":
        return None
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    named = models_dir() / str(source)
    if not path.is_absolute() and named.is_dir():
        return named
    raise ModelUnavailable(f"The speech model folder {source} does not exist (looked at {path.resolve()}"
                           f"{'' if path.is_absolute() else ' and ' + str(named)}). Check the path in the settings, "
                           "or leave it empty to use the built-in Whisper tiny.en model.")


def load_asr(source: str | Path | None = None, prefer: str = "whisper", threads: int = 2, *,
             beam_size: int = DEFAULT_BEAM_SIZE, word_timestamps: bool = True) -> WhisperEngine | PocketSphinxEngine:
    """The preferred recogniser, else the next one that loads, with ``fallback_reason`` saying why.

    Whisper is tried with ``source`` (a CTranslate2 Whisper folder, or a name under models/asr), then with
    the shipped tiny.en when ``source`` fails, then PocketSphinx. Raises ModelUnavailable if none loads.
    """
    if prefer not in ENGINES:
        raise ValueError(f"unknown speech engine {prefer!r} (whisper or pocketsphinx)")
    folder = resolve_source(source)
    candidates: list[tuple[str, Path | None]] = []
    if prefer == "whisper":
        candidates.append(("whisper", folder))
        if folder is not None and default_model_dir() is not None:
            candidates.append(("whisper", None))
        candidates.append(("pocketsphinx", None))
    else:
        candidates += [("pocketsphinx", None), ("whisper", folder)]
    reasons: list[str] = []
    for kind, model_dir in candidates:
        try:
            if kind == "whisper":
                engine: WhisperEngine | PocketSphinxEngine = WhisperEngine(
                    model_dir, threads=threads, beam_size=beam_size, word_timestamps=word_timestamps)
            else:
                engine = PocketSphinxEngine()
        except ModelUnavailable as exc:
            reasons.append(str(exc))
            continue
        engine.fallback_reason = f"{' '.join(reasons)} Using {engine.version} instead." if reasons else ""
        return engine
    raise ModelUnavailable("No speech recogniser could be loaded: " + " ".join(reasons))
