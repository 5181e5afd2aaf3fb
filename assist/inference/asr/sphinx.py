"""PocketSphinx with its bundled en-us model: the fallback recogniser when Whisper cannot load.

Less accurate than Whisper on open speech and about 3x slower on 2 cores (see models/asr/README.md), but a
small C library with its model inside the wheel. Same interface and :class:`Transcript` as Whisper.
"""

from __future__ import annotations

import re
import threading
import time

import numpy as np

from assist.inference.asr.transcript import (
    MIN_SECONDS,
    SAMPLE_RATE,
    CleanAudio,
    Transcript,
    Word,
    clean_audio,
    loudest_dbfs,
)
from assist.inference.errors import ModelUnavailable

SILENCE_DBFS = -55.0  # same floor as Whisper: nothing is decoded from silence
FRAMES_PER_SECOND = 100
_VARIANT = re.compile(r"\(\d+\)$")  # "and(2)": the second pronunciation of "and"


class PocketSphinxEngine:
    """preprocess (check, int16) -> forward (decoder) -> postprocess (drop fillers and pronunciation marks)."""

    name = "pocketsphinx"

    def __init__(self) -> None:
        try:
            import pocketsphinx
        except ImportError as exc:
            import sys

            where = ("is not part of this build of Assist (the full build has it)" if getattr(sys, "frozen", False)
                     else "is not installed (pip install pocketsphinx)")
            raise ModelUnavailable(f"PocketSphinx, the fallback recogniser, {where}.") from exc
        try:
            self._decoder = pocketsphinx.Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        except Exception as exc:  # noqa: BLE001 - RuntimeError/ValueError when the bundled model is missing
            raise ModelUnavailable(f"PocketSphinx could not load its en-us model ({exc}).") from exc
        from importlib.metadata import PackageNotFoundError, version

        try:
            self.version = f"pocketsphinx {version('pocketsphinx')} en-us"
        except PackageNotFoundError:
            self.version = "pocketsphinx en-us"
        self.provider = "pocketsphinx cpu"
        self.fallback_reason = ""
        self._lock = threading.Lock()  # one decoder, one utterance at a time

    def _decode(self, samples: np.ndarray, words: bool) -> tuple[str, list[Word]]:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        with self._lock:
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, no_search=False, full_utt=True)
            self._decoder.end_utt()
            hypothesis = self._decoder.hyp()
            segments = list(self._decoder.seg()) if words and hypothesis is not None else []
        text = hypothesis.hypstr.strip() if hypothesis is not None else ""
        found = [Word(_VARIANT.sub("", s.word), s.start_frame / FRAMES_PER_SECOND, (s.end_frame + 1) / FRAMES_PER_SECOND)
                 for s in segments if _is_word(s.word)]
        return text, found

    def _run(self, samples: object, sample_rate: int, words: bool, partial: bool) -> Transcript:
        began = time.perf_counter()
        audio: CleanAudio = clean_audio(samples, sample_rate)
        text, skipped = "", ""
        found: list[Word] = []
        if audio.seconds < MIN_SECONDS:
            skipped = "too short"
        elif loudest_dbfs(audio.samples) < SILENCE_DBFS:
            skipped = "silence"
        else:
            text, found = self._decode(audio.samples, words)
            skipped = "" if text else "no speech"
        return Transcript(text=text, words=tuple(found), seconds=round(audio.seconds, 3), avg_logprob=None,
                          no_speech_prob=None, engine=self.name, provider=self.provider,
                          elapsed_ms=(time.perf_counter() - began) * 1000, partial=partial, skipped=skipped,
                          warnings=audio.warnings)

    def transcribe(self, samples: object, sample_rate: int = SAMPLE_RATE) -> Transcript:
        """The final transcript with word times (16 kHz float32 mono samples, any length)."""
        return self._run(samples, sample_rate, True, partial=False)

    def transcribe_partial(self, samples: object, sample_rate: int = SAMPLE_RATE) -> Transcript:
        """The same search without word segmentation (PocketSphinx has no cheaper mode worth having)."""
        return self._run(samples, sample_rate, False, partial=True)


def _is_word(token: str) -> bool:
    """False for the decoder's silence and filler markers (<s>, </s>, <sil>, [NOISE], ++UH++)."""
    return not (token.startswith(("<", "[", "+")) or not token)
