"""The fixed-size vector the voice-emotion model reads: statistics of the frame tracks over one clip.

Level-independent by construction: log-mel and MFCCs are taken relative to the clip's mean level and
energy relative to its loud frames, so microphone gain does not shift the vector. Pitch is in
semitones, so a uniform pitch shift moves only the pitch-level statistics.
"""

from __future__ import annotations

import numpy as np

from assist.inference.voice.audio import TARGET_RATE

N_MELS = 80
N_MFCC = 20
FRAME_SECONDS = 0.01
STAT_NAMES = ("mean", "std", "p10", "p50", "p90", "range", "delta", "slope")
TRACK_NAMES = ("pitch_st", "energy_db", "periodicity", "centroid_hz", "flatness", "hf_ratio_db")
_MEL_CENTRES = np.linspace(0, TARGET_RATE / 2, N_MELS + 2)[1:-1]
_SPLIT_1K = int(np.searchsorted(_MEL_CENTRES, 1000.0))


def _dct_matrix() -> np.ndarray:
    n = np.arange(N_MELS)
    k = np.arange(N_MFCC)[:, None]
    return (np.cos(np.pi * k * (2 * n + 1) / (2 * N_MELS)) * np.sqrt(2.0 / N_MELS)).astype(np.float32)


DCT = _dct_matrix()  # (20, 80) orthonormal DCT-II rows: MFCCs from log-mel


MFCC_STATS = ("mean", "std", "voiced_mean", "voiced_std", "p10", "p25", "p50", "p75", "p90", "iqr", "skew", "kurt")
DELTA_STATS = ("std", "p10", "p90", "absmean")


def _feature_names() -> tuple[str, ...]:
    names = []
    for kind in MFCC_STATS:
        names += [f"mfcc{c}_{kind}" for c in range(N_MFCC)]
    for order in ("d1", "d2"):
        for kind in DELTA_STATS:
            names += [f"mfcc{c}_{order}_{kind}" for c in range(N_MFCC)]
    for track in TRACK_NAMES:
        names += [f"{track}_{s}" for s in STAT_NAMES]
    names += ["pitch_st_skew", "pitch_st_kurt", "energy_db_skew", "energy_db_kurt", "energy_db_d1_mean",
              "energy_db_d1_std", "voiced_fraction", "speaking_rate_hz", "pause_fraction", "voiced_minus_unvoiced_db",
              "voiced_segments_per_s", "voiced_segment_mean_s", "voiced_segment_std_s"]
    return tuple(names)


FEATURE_NAMES = _feature_names()
FEATURE_DIM = len(FEATURE_NAMES)


def quantiles(values: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Linear-interpolated quantiles (as np.percentile, without its overhead on small arrays)."""
    if len(values) == 0:
        return [0.0] * len(qs)
    ordered = np.sort(values)
    return [float(v) for v in np.interp(np.asarray(qs) * (len(ordered) - 1), np.arange(len(ordered)), ordered)]


def _column_quantiles(values: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """(len(qs), columns) quantiles of each column."""
    ordered = np.sort(values, axis=0)
    positions = np.asarray(qs) * (len(ordered) - 1)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, len(ordered) - 1)
    weight = (positions - low)[:, None]
    return ordered[low] * (1 - weight) + ordered[high] * weight


def _slope(values: np.ndarray) -> float:
    if len(values) < 3:
        return 0.0
    t = np.arange(len(values), dtype=np.float64) * FRAME_SECONDS
    t -= t.mean()
    return float((t * (values - values.mean())).sum() / max(float((t**2).sum()), 1e-9))


def track_stats(values: np.ndarray) -> list[float]:
    """mean, std, 10th / 50th / 90th percentile, 10-90 range, mean |delta|, slope per second."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return [float(values.mean()) if len(values) else 0.0] + [0.0] * 7
    p10, p50, p90 = quantiles(values, (0.1, 0.5, 0.9))
    return [float(values.mean()), float(values.std()), p10, p50, p90, p90 - p10,
            float(np.abs(np.diff(values)).mean()), _slope(values)]


def moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skewness and excess kurtosis along axis 0 (0 where the values are constant)."""
    centred = values - values.mean(0)
    var = (centred**2).mean(0)
    safe = np.where(var > 1e-12, var, 1.0)
    skew = np.where(var > 1e-12, (centred**3).mean(0) / safe**1.5, 0.0)
    kurt = np.where(var > 1e-12, (centred**4).mean(0) / safe**2 - 3.0, 0.0)
    return skew, kurt


def regression_delta(values: np.ndarray) -> np.ndarray:
    """Standard +-2-frame regression delta along time (edges repeated)."""
    p = np.concatenate([values[:1], values[:1], values, values[-1:], values[-1:]])
    return (p[3:-1] - p[1:-3] + 2 * (p[4:] - p[:-4])) / 10.0


def _delta_stats(delta: np.ndarray) -> list[np.ndarray]:
    q = _column_quantiles(delta, (0.1, 0.9))
    return [delta.std(0), q[0], q[1], np.abs(delta).mean(0)]


def syllable_peaks(db: np.ndarray, voiced: np.ndarray) -> int:
    """Energy peaks (syllable nuclei): voiced, 3 dB above the dips around them, >= 80 ms apart."""
    from scipy.signal import find_peaks

    if len(db) < 5:
        return 0
    smooth = np.convolve(db, np.ones(5) / 5, mode="same")
    peaks, _ = find_peaks(smooth, prominence=3.0, distance=8, height=quantiles(db, (0.99,))[0] - 25.0)
    return int(voiced[peaks].sum())


def voiced_segments(voiced: np.ndarray) -> np.ndarray:
    """Lengths in seconds of the runs of voiced frames."""
    edges = np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]]))
    return (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)) * FRAME_SECONDS


def summary_vector(mel: np.ndarray, f0: np.ndarray, periodicity: np.ndarray, db: np.ndarray,
                   active: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """(FEATURE_DIM,) float32 statistics over active (and voiced) frames; zeros when nothing is active."""
    if not active.any():
        return np.zeros(FEATURE_DIM, dtype=np.float32)
    act = mel[active]
    rel = act - act.mean()
    mfcc = np.einsum("fm,cm->fc", rel, DCT).astype(np.float64)  # einsum: no BLAS threads for a tiny product
    voiced_mfcc = mfcc[voiced[active]] if voiced.any() else mfcc
    q = _column_quantiles(mfcc, (0.1, 0.25, 0.5, 0.75, 0.9))
    d1 = regression_delta(mfcc)
    parts = [mfcc.mean(0), mfcc.std(0), voiced_mfcc.mean(0), voiced_mfcc.std(0), *q, q[3] - q[1], *moments(mfcc),
             *_delta_stats(d1), *_delta_stats(regression_delta(d1))]
    power = np.exp(act.astype(np.float64))
    total = power.sum(1)
    low = power[:, :_SPLIT_1K].sum(1)
    centroid = (power * _MEL_CENTRES).sum(1) / total
    flatness = np.exp(np.log(power).mean(1)) / (total / N_MELS)
    hf = 10 * np.log10((total - low) / low)
    semitones = 12 * np.log2(f0[voiced] / 100.0) if voiced.any() else np.zeros(0)
    loud = quantiles(db[active], (0.99,))[0]
    tracks = (semitones, db[active] - loud, periodicity[voiced], centroid, flatness, hf)
    parts.append(np.array([s for values in tracks for s in track_stats(values)]))
    unvoiced = active & ~voiced
    gap = float(db[voiced].mean() - db[unvoiced].mean()) if voiced.any() and unvoiced.any() else 0.0
    span = np.flatnonzero(active)
    active_seconds = active.sum() * FRAME_SECONDS
    segments = voiced_segments(voiced)
    shape = [*moments(semitones[:, None])] if len(semitones) > 2 else [0.0, 0.0]
    level_change = np.diff(db[active]) if active.sum() > 1 else np.zeros(1)
    parts.append(np.array([
        *np.ravel(shape), *np.ravel(moments(db[active][:, None])), level_change.mean(), level_change.std(),
        voiced.sum() / active.sum(), syllable_peaks(db, voiced) / active_seconds,
        1.0 - active.sum() / (span[-1] - span[0] + 1), gap, len(segments) / active_seconds,
        segments.mean() if len(segments) else 0.0, segments.std() if len(segments) else 0.0,
    ]))
    vector = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts]).astype(np.float32)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)
