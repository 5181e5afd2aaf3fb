"""What every recogniser returns (:class:`Transcript`) and the one input check they share.

Input is float32 mono 16 kHz samples in [-1, 1]. Fixable faults (a few NaNs, clipping, a DC offset,
int16 samples or 16-bit values stored as floats) are repaired and named in ``warnings``; input that
cannot be transcribed (another sample rate, mostly NaN, not numbers) raises :class:`BadInput`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from assist.inference.errors import BadInput

SAMPLE_RATE = 16_000
MIN_SECONDS = 0.3  # shorter clips hold at most a syllable: transcribing them only invites made-up words
MAX_INVALID_FRACTION = 0.05  # NaN/inf samples: up to this share are zeroed, more and the clip is rejected
DC_WARN_LEVEL = 0.01


class Word(NamedTuple):
    """One recognised word and where it lies in the clip, in seconds."""

    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Transcript:
    """A recogniser's answer for one clip; ``text`` is "" when there was nothing to transcribe (see ``skipped``)."""

    text: str
    words: tuple[Word, ...]  # empty when word timings were not asked for or the engine has none
    seconds: float  # audio received
    avg_logprob: float | None  # mean log-probability per token (Whisper); None when unknown
    no_speech_prob: float | None  # Whisper's own "this is not speech" probability; None when unknown
    engine: str  # "whisper" or "pocketsphinx"
    provider: str  # e.g. "ctranslate2 cpu int8_float32"
    elapsed_ms: float
    partial: bool = False  # a quick hypothesis while the speaker is still talking
    skipped: str = ""  # why nothing was transcribed: "too short", "silence", "no speech"
    warnings: tuple[str, ...] = ()  # input problems that were repaired

    @property
    def empty(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class CleanAudio:
    """Validated samples (float32, mono, [-1, 1], DC removed) and what was repaired on the way."""

    samples: np.ndarray
    warnings: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def _as_float(samples: object) -> tuple[np.ndarray, list[str]]:
    try:
        x = np.asarray(samples)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"The audio is not an array of samples ({exc}).") from exc
    if x.dtype.kind in "iu" and x.size:
        info = np.iinfo(x.dtype)
        scale = 2.0 ** (info.bits - 1)
        offset = 0.0 if x.dtype.kind == "i" else scale
        return ((x.astype(np.float64) - offset) / scale).astype(np.float32), []
    if x.dtype.kind == "f" or (x.dtype.kind in "iu" and not x.size):
        return x.astype(np.float32, copy=False), []
    raise BadInput(f"The audio samples must be numbers (float32 in [-1, 1] or 16-bit integers), not {x.dtype}.")


def _to_mono(x: np.ndarray) -> np.ndarray:
    if x.ndim == 1:
        return x
    if x.ndim == 2 and min(x.shape) <= 8:
        return x.mean(axis=int(np.argmin(x.shape))).astype(np.float32)
    raise BadInput(f"The audio must be mono samples (or frames x channels), not an array of shape {x.shape}.")


def clean_audio(samples: object, sample_rate: int = SAMPLE_RATE) -> CleanAudio:
    """Check and repair ``samples`` for a recogniser; raise :class:`BadInput`, in plain words, when impossible."""
    if int(sample_rate) != SAMPLE_RATE:
        raise BadInput(f"The speech recogniser needs 16 kHz audio but got {int(sample_rate)} Hz; resample it to "
                       "16 000 Hz first (for example with scipy.signal.resample_poly).")
    x, warnings = _as_float(samples)
    x = _to_mono(x)
    if not x.size:
        return CleanAudio(np.zeros(0, np.float32), ())
    finite = np.isfinite(x)
    if not finite.all():
        bad = 1.0 - float(finite.mean())
        if bad > MAX_INVALID_FRACTION:
            raise BadInput(f"{bad:.0%} of the audio samples are not numbers (NaN or infinite); the clip is unusable.")
        x = np.where(finite, x, 0.0).astype(np.float32)
        warnings.append(f"{bad:.2%} of samples were NaN or infinite and were set to silence")
    peak = float(np.abs(x).max())
    if 4.0 < peak <= 32_768.5:
        x = x / np.float32(32_768.0)
        warnings.append("samples looked like 16-bit integers stored as floats and were scaled to [-1, 1]")
    elif peak > 32_768.5:
        raise BadInput(f"The audio samples reach {peak:.3g}; float samples must lie in [-1, 1].")
    dc = float(x.mean(dtype=np.float64))
    if abs(dc) >= DC_WARN_LEVEL:
        warnings.append(f"DC offset of {dc:+.3f} removed")
    x = x - np.float32(dc)
    if float(np.abs(x).max()) > 1.0:
        x = np.clip(x, -1.0, 1.0)
        warnings.append("samples beyond full scale were clipped to [-1, 1]")
    return CleanAudio(np.ascontiguousarray(x, dtype=np.float32), tuple(warnings))


def loudest_dbfs(samples: np.ndarray, frame: int = 320) -> float:
    """Level of the loudest 20 ms frame in dBFS (-inf for digital silence): the floor below which we skip."""
    n = len(samples) // frame
    if n == 0:
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    else:
        frames = samples[: n * frame].reshape(n, frame).astype(np.float64)
        rms = float(np.sqrt(np.mean(frames * frames, axis=1)).max())
    return 20.0 * float(np.log10(rms)) if rms > 0 else float("-inf")
