"""Loading the engines the pipeline needs (one-off job with progress), and their protocols."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from assist.domain import ProgressState

if TYPE_CHECKING:  # the engines' own types, for the protocols' signatures only (each is loaded lazily below)
    from assist.inference.asr.transcript import Transcript
    from assist.inference.fusion.features import FusionInputs
    from assist.inference.fusion.model import FusedEstimate
    from assist.inference.text_model import TextAnalysis
    from assist.inference.voice.model import VoiceAnalysis
    from assist.replies.kb.retriever import Hit
    from assist.replies.kb.store import KnowledgeStore
    from assist.replies.macros.bank import MacroBank


class TextAnalyzer(Protocol):
    """What the pipeline needs from a text model (``inference.text_onnx.OnnxTextModel``, ``text_model.TextModel``)."""

    @property
    def version(self) -> str: ...
    @property
    def device(self) -> str: ...
    @property
    def context_turns(self) -> int: ...

    def analyze(self, texts: list[str], contexts: list[str] | None = None) -> Sequence[TextAnalysis]: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...


class Retriever(Protocol):
    """The knowledge base as the controller searches it per customer turn (``replies.kb.retriever.StoreRetriever``)."""

    def search(self, text: str, embedding: np.ndarray | None = None, k: int = 3) -> list[Hit]: ...

    def describe(self) -> str: ...


class FusionEstimator(Protocol):
    """Joins a turn's words, previous turns, voice and screen (``inference.fusion.model.FusionModel``)."""

    @property
    def version(self) -> str: ...
    @property
    def provider(self) -> str: ...

    def estimate(self, inputs: FusionInputs, explain: bool = True) -> FusedEstimate: ...


class VoiceReader(Protocol):
    """Reads the customer's voice (``inference.voice.model.VoiceModel``)."""

    @property
    def provider(self) -> str: ...

    def analyze(self, samples: np.ndarray, sample_rate: int) -> VoiceAnalysis: ...


class SpeechRecognizer(Protocol):
    """Transcribes a call's utterances (``inference.asr``: Whisper, PocketSphinx)."""

    @property
    def name(self) -> str: ...
    @property
    def provider(self) -> str: ...

    def transcribe(self, samples: object, sample_rate: int = ...) -> Transcript: ...

    def transcribe_partial(self, samples: object, sample_rate: int = ...) -> Transcript: ...


class EmotionPrior(Protocol):
    """Reads a customer's turn with their previous one (``inference.dialogue_prior.DialoguePrior``)."""

    def combine(self, probs: dict[str, float], previous: dict[str, float] | None) -> dict[str, float]: ...


class EscalationEvidence(Protocol):
    """Evidence for an alert found by meaning (``inference.escalation.EscalationPrototypes``)."""

    def evidence(self, text: str, message_vector: Any = None) -> list[tuple[str, bool]]: ...


class LanguageModel(Protocol):
    """A local model that drafts replies (``inference.llm.LocalLLM``)."""

    @property
    def name(self) -> str: ...

    def describe(self) -> str: ...


@dataclass
class EngineConfig:
    model_dir: Path | None = None
    encoder_source: str | None = None
    kb_path: Path | None = None  # the knowledge-base file; None = kb.sqlite3 in the user's data folder
    kb_seed: Path | None = None  # what a new knowledge base starts from; None = the bundled ABCD procedures
    device: str = "auto"
    backend: str = "auto"  # onnx (int8, the shipped default), torch, or auto: onnx when its file is usable
    cpu_threads: int = 1  # intra-op threads for per-message inference (see encoder.set_cpu_threads)
    # fuse each chat message with its previous turns (models/fusion). Off by default: on MELD dev the shipped
    # fusion model with context (0.574 weighted-F1) does not beat the text model alone (0.585) yet
    fusion: bool = False
    fusion_dir: Path | None = None
    # calls (live capture, replayed WAVs): the voice model, and the fusion model that joins voice and words
    voice: bool = False
    voice_dir: Path | None = None
    # the speech recogniser for calls: None = the shipped Whisper tiny.en; a CTranslate2 Whisper folder (a path or
    # a name under models/asr); "pocketsphinx" for the fallback engine
    asr_source: str | None = None
    asr_threads: int = 2
    macros: bool = False  # the reply bank (user data folder, seeded from resources/macros on first run)
    # drafting: a local causal language model (a transformers folder, a name under models/llm, or a hub id where
    # llm_download allows it). None: the first folder in models/llm if any; "" or "none": no drafting
    llm: str | None = ""
    llm_download: bool = False
    macro_bank: Path | None = None
    # the window's start: the voice and speech models (calls only, about 1.2 s) are loaded after the engines are
    # ready, by load_call_models, so Start session is available sooner; calls wait for them
    defer_calls: bool = False


@dataclass
class Engines:
    text: TextAnalyzer
    retriever: Retriever
    load_seconds: dict[str, float] = field(default_factory=dict)
    fusion: FusionEstimator | None = None  # text + context turns (with --fusion), voice and screen (calls)
    notes: list[str] = field(default_factory=list)  # what could not be loaded, for the log and the window
    voice: VoiceReader | None = None  # loaded for calls
    fuse_chat: bool = False  # chat messages go through the fusion model with their previous turns
    asr: SpeechRecognizer | None = None  # the speech recogniser, loaded with the voice model (see load_asr_engine)
    macros: MacroBank | None = None  # the reply bank
    kb: KnowledgeStore | None = None  # the knowledge base behind the retriever (for the KB panel)
    llm: LanguageModel | None = None  # when drafting is configured and loaded
    dialogue_prior: EmotionPrior | None = None  # reads a customer's turn with their previous one
    escalation: EscalationEvidence | None = None  # evidence for an alert by meaning (sentences near prototypes)

    @property
    def device(self) -> str:
        return self.text.device

    @property
    def provider(self) -> str:
        """Where the text model runs, for the status bar (e.g. CPUExecutionProvider, torch (cpu))."""
        return str(getattr(self.text, "provider", self.text.device))

    @property
    def versions(self) -> dict[str, str]:
        versions = {"text": self.text.version, "kb": self.retriever.describe()}
        if self.fusion is not None:
            versions["fusion"] = str(getattr(self.fusion, "version", "?"))
        return versions


def load_engines(config: EngineConfig | None = None, state: ProgressState | None = None) -> Engines:
    """Load the text model and open the knowledge base. Raises ModelUnavailable / KnowledgeBaseError."""
    from assist.inference.text_onnx import load_text_model

    config = config or EngineConfig()
    state = state or ProgressState()
    timings = {}
    start = time.perf_counter()
    state.set_progress(0.05, "loading text model")
    model = load_text_model(config.model_dir, config.encoder_source, config.device, config.backend,
                            config.cpu_threads)
    if model.backend == "torch":
        from assist.inference.encoder import set_cpu_threads

        set_cpu_threads(config.cpu_threads)
    model.analyze(["warm-up"])  # first call allocates; do it here, not on the first customer message
    timings["text_model_s"] = round(time.perf_counter() - start, 3)
    fusion, voice = None, None
    notes: list[str] = []
    dialogue_prior = _load_dialogue_prior(model, notes)
    escalation = _load_escalation_prototypes(model, notes)
    if (config.fusion or config.voice) and getattr(model, "backend", "") == "onnx":
        from assist.inference.errors import ModelUnavailable
        from assist.inference.fusion.model import FusionModel

        start = time.perf_counter()
        try:
            fusion = FusionModel(config.fusion_dir, threads=config.cpu_threads, prefer_gpu=config.device != "cpu")
        except ModelUnavailable as exc:
            notes.append(f"{exc} Emotion comes from the text model alone (no conversation context, no voice).")
        timings["fusion_model_s"] = round(time.perf_counter() - start, 3)
    asr = None
    if config.voice and not config.defer_calls:
        state.set_progress(0.5, "loading voice and speech models")
        voice, asr = _load_call_models(config, fusion, notes, timings)
    macros = _load_macros(config, notes) if config.macros else None
    llm = _load_llm(config, notes, timings, state)
    state.set_progress(0.7, "opening knowledge base")
    start = time.perf_counter()
    store = open_knowledge_base(config, model, ProgressState(lambda f, m: state.set_progress(0.7 + 0.3 * f, m)),
                                notes)
    timings["knowledge_base_s"] = round(time.perf_counter() - start, 3)
    state.set_progress(1.0, "ready")
    from assist.replies.kb.retriever import StoreRetriever

    return Engines(text=model, retriever=StoreRetriever(store), load_seconds=timings, fusion=fusion, notes=notes, voice=voice,
                   fuse_chat=config.fusion and fusion is not None, asr=asr, macros=macros,
                   kb=store, llm=llm, dialogue_prior=dialogue_prior, escalation=escalation)


def _load_call_models(config: EngineConfig, fusion: FusionEstimator | None, notes: list[str],
                      timings: dict[str, float]) -> tuple[VoiceReader | None, SpeechRecognizer | None]:
    voice = _load_voice(config, notes, timings) if fusion is not None else None
    start = time.perf_counter()
    asr = load_asr_engine(config, notes)
    timings["speech_model_s"] = round(time.perf_counter() - start, 3)
    return voice, asr


def load_call_models(engines: Engines, config: EngineConfig) -> list[str]:
    """The voice and speech models for calls, into ``engines`` that were loaded with ``defer_calls`` (on the worker's
    thread, after the window is ready). Returns the notes about what could not be loaded."""
    notes: list[str] = []
    if config.voice and engines.asr is None:
        engines.voice, engines.asr = _load_call_models(config, engines.fusion, notes, engines.load_seconds)
        engines.notes.extend(notes)
    return notes


def _load_dialogue_prior(model: object, notes: list[str]) -> EmotionPrior | None:
    """The conversation prior fitted for this text model (models/text/dialogue_prior.json), if it has one."""
    from assist.inference.dialogue_prior import DialoguePriorError, load_prior, prior_file

    path = prior_file(getattr(model, "model_dir", None))
    if path is None:
        return None
    try:
        return load_prior(path)
    except DialoguePriorError as exc:
        notes.append(f"The conversation prior {exc}: each message's emotion is read on its own "
                     "(refit it with `assist train dialogue-prior`).")
        return None


def _load_escalation_prototypes(model: Any, notes: list[str]) -> EscalationEvidence | None:
    """Escalation evidence by meaning (resources/escalation/prototypes.json, embedded with the text model's
    retrieval encoder); None with a note when the file is unusable (the word patterns still work)."""
    from assist.inference.escalation import EscalationPrototypes, PrototypeError

    try:
        return EscalationPrototypes.load(model.embed)
    except PrototypeError as exc:
        notes.append(f"Escalation by meaning is off: {exc}. Alerts come from the word patterns alone.")
        return None


def embedding_model_id(model: object) -> str:
    """Names the embedding space a KB's vectors live in: the text model's version and a digest of its weights."""
    digest = model.weights_sha256()[:12] if hasattr(model, "weights_sha256") else ""
    version = getattr(model, "version", "unknown")
    return f"{version}/{digest}" if digest else str(version)


def open_knowledge_base(config: EngineConfig, model: TextAnalyzer, state: ProgressState,
                        notes: list[str] | None = None) -> KnowledgeStore:
    """The knowledge base the app searches (seeded from the bundled KB on first use), embedded by ``model``.

    A knowledge-base file that cannot be opened (corrupt, another program's, unreadable) is left exactly as it
    is and named in a note; the app then suggests from a fresh copy of the bundled KB in a temporary folder.
    """
    import tempfile

    from assist.replies.kb.entries import KnowledgeBaseError, default_kb_path
    from assist.replies.kb.seed import open_user_kb

    notes = notes if notes is not None else []
    seed = config.kb_seed or default_kb_path()
    model_id = embedding_model_id(model)
    try:
        store = open_user_kb(model.embed, model_id, config.kb_path, seed, state)
    except KnowledgeBaseError as exc:
        notes.append(f"{exc} The file was left as it is; until it is fixed or removed, replies come from the "
                     "bundled knowledge base and imports are not kept.")
        return open_user_kb(model.embed, model_id, Path(tempfile.mkdtemp(prefix="assist-kb-")) / "kb.sqlite3", seed,
                            state)
    if not store.stats()["articles"]:
        notes.append(f"The knowledge base {store.path} is empty: replies come from the reply bank only. Import "
                     "articles in the Knowledge base tab or with 'assist kb import PATH'.")
    return store


def _load_llm(config: EngineConfig, notes: list[str], timings: dict[str, float],
              state: ProgressState) -> LanguageModel | None:
    """The drafting model, or None: not configured (the feature is absent), or not loadable (said in a note)."""
    from assist.inference.llm import configured_llm_source

    if config.llm is not None and config.llm.strip().lower() in ("", "none"):
        return None
    source = configured_llm_source(config.llm)
    if source is None:
        return None
    from assist.inference.errors import ModelUnavailable
    from assist.inference.llm import LocalLLM

    state.set_progress(0.6, "loading the drafting model")
    start = time.perf_counter()
    try:
        llm = LocalLLM(source, device=config.device, allow_download=config.llm_download)
    except ModelUnavailable as exc:
        notes.append(f"{exc} Replies are suggested without drafts.")
        return None
    timings["llm_s"] = round(time.perf_counter() - start, 3)
    return llm


def _load_macros(config: EngineConfig, notes: list[str]) -> MacroBank | None:
    from assist.replies.macros.bank import MacroBank, MacroError

    try:
        return MacroBank.open_user_bank(config.macro_bank)
    except (MacroError, OSError) as exc:
        notes.append(f"The reply bank could not be opened ({exc}); suggestions come from the knowledge base only.")
        return None


def load_asr_engine(config: EngineConfig, notes: list[str]) -> SpeechRecognizer | None:
    """The speech recogniser for calls, or None with a note (calls are then unavailable, chat still works)."""
    from assist.inference.asr import load_asr
    from assist.inference.errors import ModelUnavailable

    try:
        if config.asr_source == "pocketsphinx":
            engine = load_asr(prefer="pocketsphinx", threads=config.asr_threads)
        else:
            engine = load_asr(config.asr_source, threads=config.asr_threads)
    except ModelUnavailable as exc:
        notes.append(f"{exc} Calls cannot be transcribed; chat still works.")
        return None
    if getattr(engine, "fallback_reason", ""):
        notes.append(f"Speech recognition: {engine.fallback_reason}")
    return engine


def _load_voice(config: EngineConfig, notes: list[str], timings: dict[str, float]) -> VoiceReader | None:
    from assist.inference.errors import ModelUnavailable
    from assist.inference.voice.model import VoiceModel

    start = time.perf_counter()
    try:
        voice = VoiceModel(config.voice_dir)
    except ModelUnavailable as exc:
        notes.append(f"{exc} Call turns are read from their words alone.")
        voice = None
    timings["voice_model_s"] = round(time.perf_counter() - start, 3)
    return voice
