"""Whisper's log-mel spectrogram in numpy, identical to transformers' ``WhisperFeatureExtractor``.

Written out here because importing the transformers extractor imports torch, which the installed app
must not load just to hear speech. Parity is checked in tests/inference/test_asr.py (max difference ~1e-5).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
CHUNK_SECONDS = 30
CHUNK_SAMPLES = CHUNK_SECONDS * SAMPLE_RATE  # 480 000
CHUNK_FRAMES = CHUNK_SAMPLES // HOP  # 3000 mel frames = 1500 encoder positions


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(hz >= 1000.0, log_part, 3.0 * hz / 200.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0)), 200.0 * mel / 3.0)


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = 80) -> np.ndarray:
    """(N_FFT // 2 + 1, n_mels) triangular filters, Slaney-normalised, 0-8 kHz (as librosa and transformers)."""
    fft_freqs = np.linspace(0, SAMPLE_RATE // 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(8000.0), n_mels + 2))
    widths = np.diff(edges)
    slopes = edges[None, :] - fft_freqs[:, None]
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    filters *= 2.0 / (edges[2 : n_mels + 2] - edges[:n_mels])
    return filters


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic, as torch.hann_window


def log_mel(samples: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """(n_mels, 3000) float32 log-mel features of up to 30 s of 16 kHz samples, zero-padded to 30 s.

    Exactly ``WhisperFeatureExtractor(feature_size=n_mels)`` output. Frames that only see the zero padding
    are the floor value (log10 1e-10 = -10), so only the frames that touch the audio go through the FFT.
    """
    x = np.zeros(CHUNK_SAMPLES, dtype=np.float64)
    n = min(len(samples), CHUNK_SAMPLES)
    x[:n] = samples[:n]
    x = np.pad(x, N_FFT // 2, mode="reflect")
    total = CHUNK_FRAMES + 1  # the STFT's frames; the last is dropped, as in Whisper
    needed = min(total, -(-(n + N_FFT // 2) // HOP) + 1)  # frames past this hold only zeros
    windows = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP][:needed]
    power = np.abs(np.fft.rfft(windows * _hann(), axis=1)) ** 2
    spec = np.full((n_mels, total), -10.0)
    spec[:, :needed] = np.log10(np.maximum(power @ mel_filters(n_mels), 1e-10)).T
    spec = spec[:, :-1]
    spec = np.maximum(spec, spec.max() - 8.0)
    return np.ascontiguousarray((spec + 4.0) / 4.0, dtype=np.float32)
