"""Voice features from 16 kHz audio: log-mel frames, a YIN pitch track, energy, rhythm and their statistics.

Frames are 25 ms long every 10 ms. Everything is plain numpy/scipy and vectorised over frames, so 5 s
of audio takes about 15 ms on one core. The fixed-size ``vector`` (see ``summary.FEATURE_NAMES``) is what
the voice-emotion model reads; it is level-independent, so a quiet microphone does not look like a
sad customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assist.inference.voice.audio import MAX_SECONDS, TARGET_RATE, PreparedAudio, load_audio, prepare_audio
from assist.inference.voice.summary import N_MELS, quantiles, summary_vector, syllable_peaks

N_FFT = 512
WIN = 400  # 25 ms
HOP = 160  # 10 ms
FRAME_SECONDS = HOP / TARGET_RATE
F0_MIN, F0_MAX = 60.0, 550.0
PITCH_RATE = 8_000  # pitch is tracked on a 2x decimated signal: 4x less work, same frames
PITCH_WIN, PITCH_HOP = WIN // 2, HOP // 2
TAU_MIN = int(PITCH_RATE / F0_MAX)
TAU_MAX = int(np.ceil(PITCH_RATE / F0_MIN))
PITCH_FFT = 512  # >= PITCH_WIN + TAU_MAX
YIN_THRESHOLD = 0.2  # first dip of the normalised difference below this is the period
VOICING_THRESHOLD = 0.3  # frames whose best dip is above this are unvoiced
MEL_RANGE = 1e-8  # log-mel floor: 80 dB below the clip's loudest band
SILENCE_DBFS = -75.0  # frames quieter than this are never speech
ACTIVE_RANGE_DB = 40.0  # frames more than this below the clip's loud frames are background
MIN_SPEECH_SECONDS = 0.15  # voiced, active time needed before we call it speech
LOUDNESS_FLOOR_DB, LOUDNESS_CEIL_DB = -55.0, -10.0  # dBFS mapped to loudness 0 and 1
MIN_TONE_VARIATION = (0.2, 1.0)  # pitch std (semitones), energy std (dB): below both = a steady tone


@dataclass(frozen=True)
class Prosody:
    """Per-clip prosody in units a person can read (pitch in Hz and semitones, energy in dB)."""

    pitch_mean_hz: float
    pitch_std_semitones: float
    pitch_range_semitones: float  # 10th to 90th percentile
    energy_mean_dbfs: float
    energy_std_db: float
    voiced_fraction: float  # voiced frames / active frames
    speaking_rate_hz: float  # energy peaks (syllable nuclei) per second of active speech
    pause_fraction: float  # inactive share of the span from first to last active frame
    loudness: float  # [0, 1]: active-speech level from -55 dBFS (0) to -10 dBFS (1)


@dataclass(frozen=True)
class VoiceFeatures:
    audio: PreparedAudio
    log_mel: np.ndarray  # (frames, 80) float32, natural log of mel power
    f0_hz: np.ndarray  # (frames,) 0 where unvoiced
    periodicity: np.ndarray  # (frames,) 1 - YIN dip: near 1 for clean voicing
    frame_dbfs: np.ndarray  # (frames,)
    active: np.ndarray  # (frames,) bool: above the background
    voiced: np.ndarray  # (frames,) bool: active and periodic
    prosody: Prosody
    speech_present: bool
    vector: np.ndarray  # (FEATURE_DIM,) float32, finite; the model input
    warnings: tuple[str, ...]

    @property
    def loudness(self) -> float:
        return self.prosody.loudness


def frame(x: np.ndarray, length: int, hop: int = HOP) -> np.ndarray:
    """(frames, length) view; the signal is zero-padded so the last partial frame is kept."""
    count = 1 + max(0, int(np.ceil((len(x) - length) / hop)))
    need = (count - 1) * hop + length
    if need > len(x):
        x = np.concatenate([x, np.zeros(need - len(x), dtype=x.dtype)])
    return np.lib.stride_tricks.sliding_window_view(x, length)[::hop][:count]


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """(257, 80) triangular HTK-mel filters from 0 to 8 kHz, area-normalised (Slaney)."""
    mels = np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(TARGET_RATE / 2)), N_MELS + 2)
    edges = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.linspace(0, TARGET_RATE / 2, N_FFT // 2 + 1)
    lower = (bins[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])
    upper = (edges[None, 2:] - bins[:, None]) / (edges[2:] - edges[1:-1])
    weights = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _mel_sparse() -> object:
    """The filterbank as a sparse (80, 257) matrix: no BLAS threads, which stall on a busy 2-core CPU."""
    from scipy.sparse import csr_matrix

    return csr_matrix(mel_filterbank().T)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(WIN + 1)[:-1].astype(np.float32)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) log mel power of 16 kHz samples."""
    from scipy.fft import rfft

    spectrum = rfft(frame(samples.astype(np.float32, copy=False), WIN) * _window(), N_FFT, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    mel = (_mel_sparse() @ power.T).T
    # floor 80 dB below the clip's loudest band (not a fixed epsilon), so the gain cannot change the shape
    floor = max(float(mel.max()) * MEL_RANGE, 1e-20) if mel.size else 1e-20
    return np.log(np.maximum(mel, floor)).astype(np.float32)


def frame_dbfs(samples: np.ndarray) -> np.ndarray:
    frames = frame(samples.astype(np.float32, copy=False), WIN)
    return (10.0 * np.log10(np.einsum("ij,ij->i", frames, frames) / WIN + 1e-12)).astype(np.float32)


def track_pitch(samples: np.ndarray, frames_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """YIN over frames aligned with :func:`log_mel`: (f0 in Hz or 0, best dip of the normalised difference).

    The cumulative-mean-normalised difference d'(tau) is computed for all frames at once from one
    FFT cross-correlation and running energies; the period is the first local minimum below
    ``YIN_THRESHOLD`` (else the global minimum), refined by parabolic interpolation.
    """
    from scipy.fft import irfft, rfft
    from scipy.signal import resample_poly

    count = len(frame(samples, WIN))
    x = resample_poly(samples.astype(np.float32, copy=False), 1, 2).astype(np.float32)
    padded = np.zeros((count - 1) * PITCH_HOP + PITCH_WIN + TAU_MAX, dtype=np.float32)
    padded[: min(len(x), len(padded))] = x[: len(padded)]
    rows = np.arange(count) if frames_mask is None else np.flatnonzero(frames_mask[:count])
    f0_all = np.zeros(count, dtype=np.float32)
    dip_all = np.ones(count, dtype=np.float32)
    if len(rows) == 0:
        return f0_all, dip_all
    frames = np.lib.stride_tricks.sliding_window_view(padded, PITCH_WIN + TAU_MAX)[::PITCH_HOP][rows]
    head = rfft(frames[:, :PITCH_WIN], PITCH_FFT, axis=1)
    corr = irfft(np.conj(head) * rfft(frames, PITCH_FFT, axis=1), PITCH_FFT, axis=1)[:, : TAU_MAX + 1]
    # energy of the window starting at every sample, from one running sum over the whole signal
    running_energy = np.concatenate([[0.0], np.cumsum(padded.astype(np.float64) ** 2)])
    window_energy = running_energy[PITCH_WIN:] - running_energy[:-PITCH_WIN]
    shifted = np.lib.stride_tricks.sliding_window_view(window_energy, TAU_MAX + 1)[::PITCH_HOP][rows]
    diff = np.maximum(shifted[:, :1] + shifted - 2.0 * corr, 0.0)
    running = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, TAU_MAX + 1)
    band = (diff[:, TAU_MIN:] / np.maximum(running[:, TAU_MIN - 1 :], 1e-12)).astype(np.float32)
    is_min = np.zeros_like(band, dtype=bool)
    is_min[:, 1:-1] = (band[:, 1:-1] <= band[:, :-2]) & (band[:, 1:-1] <= band[:, 2:])
    candidates = is_min & (band < YIN_THRESHOLD)
    first = np.where(candidates.any(axis=1), candidates.argmax(axis=1), band.argmin(axis=1))
    index = np.arange(len(rows))
    best = band[index, first]
    left = band[index, np.maximum(first - 1, 0)]
    right = band[index, np.minimum(first + 1, band.shape[1] - 1)]
    curvature = left - 2 * best + right
    safe = np.where(np.abs(curvature) > 1e-9, curvature, 1.0)
    shift = np.where(np.abs(curvature) > 1e-9, 0.5 * (left - right) / safe, 0.0)
    tau = TAU_MIN + first + np.clip(shift, -0.5, 0.5)
    f0_all[rows] = np.where((best < VOICING_THRESHOLD) & (shifted[:, 0] > 1e-9), PITCH_RATE / tau, 0.0)
    dip_all[rows] = np.minimum(best, 1.0)
    return f0_all, dip_all


def active_frames(db: np.ndarray) -> np.ndarray:
    """Frames above the background: within 40 dB of the clip's loud frames and above -75 dBFS."""
    loud = quantiles(db, (0.99,))[0] if len(db) else SILENCE_DBFS
    return db > max(SILENCE_DBFS, loud - ACTIVE_RANGE_DB)


def loudness_from_dbfs(dbfs: float) -> float:
    return float(np.clip((dbfs - LOUDNESS_FLOOR_DB) / (LOUDNESS_CEIL_DB - LOUDNESS_FLOOR_DB), 0.0, 1.0))


def _prosody(f0: np.ndarray, db: np.ndarray, active: np.ndarray, voiced: np.ndarray) -> Prosody:
    semitones = 12 * np.log2(f0[voiced] / 100.0) if voiced.any() else np.zeros(0)
    level = float(10 * np.log10(np.mean(10 ** (db[active] / 10.0)))) if active.any() else float(db.max())
    span = np.flatnonzero(active)
    active_seconds = active.sum() * FRAME_SECONDS
    return Prosody(
        pitch_mean_hz=float(100 * 2 ** (semitones.mean() / 12)) if len(semitones) else 0.0,
        pitch_std_semitones=float(semitones.std()) if len(semitones) else 0.0,
        pitch_range_semitones=float(np.diff(quantiles(semitones, (0.1, 0.9)))[0]) if len(semitones) else 0.0,
        energy_mean_dbfs=level,
        energy_std_db=float(db[active].std()) if active.any() else 0.0,
        voiced_fraction=float(voiced.sum() / max(active.sum(), 1)),
        speaking_rate_hz=float(syllable_peaks(db, voiced) / active_seconds) if active.any() else 0.0,
        pause_fraction=float(1.0 - active.sum() / (span[-1] - span[0] + 1)) if len(span) else 1.0,
        loudness=loudness_from_dbfs(level) if active.any() else 0.0,
    )


def features_from_audio(audio: PreparedAudio) -> VoiceFeatures:
    """All frame-level tracks, the prosody summary and the model vector for prepared audio."""
    x = audio.samples
    mel = log_mel(x)
    db = frame_dbfs(x)
    active = active_frames(db)
    f0, dip = track_pitch(x, active)
    voiced = active & (f0 > 0)
    prosody = _prosody(f0, db, active, voiced)
    warnings = list(audio.warnings)
    speech = bool(voiced.sum() * FRAME_SECONDS >= MIN_SPEECH_SECONDS)
    if not speech:
        warnings.append("no speech found (silence or noise)")
    elif prosody.pitch_std_semitones < MIN_TONE_VARIATION[0] and prosody.energy_std_db < MIN_TONE_VARIATION[1]:
        speech = False
        warnings.append("no speech found (a steady tone)")
    periodicity = (1.0 - dip).astype(np.float32)
    return VoiceFeatures(
        audio=audio, log_mel=mel, f0_hz=f0, periodicity=periodicity, frame_dbfs=db, active=active,
        voiced=voiced, prosody=prosody, speech_present=speech,
        vector=summary_vector(mel, f0, periodicity, db, active, voiced), warnings=tuple(warnings),
    )


def extract_features(samples: np.ndarray, sample_rate: int, max_seconds: float = MAX_SECONDS) -> VoiceFeatures:
    """Prepare raw samples (any rate, channels, dtype) and compute their features."""
    return features_from_audio(prepare_audio(samples, sample_rate, max_seconds))


def features_from_file(path: str | Path, max_seconds: float = MAX_SECONDS) -> VoiceFeatures:
    return features_from_audio(load_audio(path, max_seconds))
