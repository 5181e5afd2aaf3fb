"""Audio in: read a WAV, check it, and turn it into 16 kHz mono float32 for the voice features.

Any sample rate, mono or multi-channel, integer or float samples. Problems the caller should know
about (clipping, DC offset, NaNs, a cut-short long clip) become ``warnings`` on the result; input that
cannot be analysed at all raises a subclass of :class:`assist.inference.errors.BadInput`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assist.inference.errors import BadInput

TARGET_RATE = 16_000
MIN_SECONDS = 0.25  # shorter clips hold too few frames for pitch or rhythm
MAX_SECONDS = 30.0  # longer clips are cut to their last 30 s, so analysis time stays bounded
MIN_RATE, MAX_RATE = 4_000, 384_000
MAX_INVALID_FRACTION = 0.05  # more NaN/inf samples than this and the clip is rejected
CLIP_LEVEL = 0.999  # |sample| at or above this share of full scale counts as clipped
CLIP_WARN_FRACTION = 0.001
DC_WARN_LEVEL = 0.01


class AudioError(BadInput):
    """Base class for audio that cannot be analysed."""


class AudioTooShort(AudioError):
    """The clip is shorter than :data:`MIN_SECONDS`."""


class InvalidAudio(AudioError):
    """The samples or the sample rate make no sense (NaNs, wrong type, impossible rate)."""


class UnreadableAudio(AudioError):
    """The file is missing or is not a WAV file we can read."""


@dataclass(frozen=True)
class PreparedAudio:
    """16 kHz mono float32 samples in [-1, 1] with DC removed, plus what was found on the way."""

    samples: np.ndarray
    sample_rate: int
    source_rate: int
    source_channels: int
    source_seconds: float
    peak: float  # of the source, as a share of full scale
    clipped_fraction: float
    dc_offset: float
    invalid_fraction: float
    warnings: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Samples (frames, channels) or (frames,) and the sample rate; soundfile if installed, else scipy."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableAudio(f"Audio file not found: {path}")
    try:
        import soundfile
    except ImportError:
        soundfile = None
    try:
        if soundfile is not None:
            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
            return samples, int(rate)
        import warnings

        from scipy.io import wavfile

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)  # odd chunks are not our problem
            rate, samples = wavfile.read(str(path))
        return samples, int(rate)
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "cannot read"
        raise UnreadableAudio(f"Could not read {path.name} as a WAV file ({exc}).") from exc


def to_float(samples: np.ndarray) -> np.ndarray:
    """Integer PCM scaled to [-1, 1]; float passed through (as float64 for the checks)."""
    if samples.dtype.kind == "u":
        half = float(2 ** (8 * samples.dtype.itemsize - 1))
        return (samples.astype(np.float64) - half) / half
    if samples.dtype.kind == "i":
        return samples.astype(np.float64) / float(2 ** (8 * samples.dtype.itemsize - 1))
    if samples.dtype.kind == "f":
        return samples.astype(np.float64)
    if samples.dtype.kind == "b":
        return samples.astype(np.float64)
    raise InvalidAudio(f"Audio samples must be numbers, not {samples.dtype}.")


def frames_first(samples: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, channels): a 2-D array's channel axis is its short one."""
    if samples.ndim == 1:
        return samples
    if samples.ndim != 2:
        raise InvalidAudio(f"Audio must be 1-D (mono) or 2-D (frames x channels), not {samples.ndim}-D.")
    return samples.T if samples.shape[0] < samples.shape[1] else samples


def to_mono(samples: np.ndarray) -> tuple[np.ndarray, int, list[str]]:
    """Average the channels (the short axis); fall back to the loudest channel if they cancel."""
    samples = frames_first(samples)
    if samples.ndim == 1:
        return samples, 1, []
    channels = samples.shape[1]
    if channels == 1:
        return samples[:, 0], 1, []
    finite = np.where(np.isfinite(samples), samples, 0.0)
    mixed = samples.mean(axis=1)
    channel_rms = np.sqrt((finite**2).mean(axis=0))
    mixed_rms = float(np.sqrt((np.where(np.isfinite(mixed), mixed, 0.0) ** 2).mean()))
    if channel_rms.max() > 0 and mixed_rms < 0.5 * channel_rms.max():
        loudest = int(channel_rms.argmax())
        return samples[:, loudest], channels, [f"channels cancel when mixed; used channel {loudest + 1} only"]
    return mixed, channels, []


def _rational(rate: int) -> tuple[int, int]:
    g = math.gcd(TARGET_RATE, rate)
    return TARGET_RATE // g, rate // g


def resample_to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Polyphase resampling to 16 kHz (anti-aliased)."""
    if rate == TARGET_RATE:
        return samples
    from scipy.signal import resample_poly

    up, down = _rational(rate)
    return resample_poly(samples, up, down)


@lru_cache(maxsize=1)
def _highpass_sos() -> np.ndarray:
    from scipy.signal import butter

    return butter(2, 50.0, btype="highpass", fs=TARGET_RATE, output="sos")


def _highpass(samples: np.ndarray) -> np.ndarray:
    """Remove DC and rumble below ~50 Hz (2nd-order Butterworth), so offsets cannot bias the features."""
    from scipy.signal import sosfilt

    return sosfilt(_highpass_sos(), samples)


def prepare_audio(samples: np.ndarray, sample_rate: int, max_seconds: float = MAX_SECONDS) -> PreparedAudio:
    """Check and convert raw samples; raise :class:`AudioError` when they cannot be analysed."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise InvalidAudio(f"The sample rate must be a whole number of Hz, not {sample_rate!r}.")
    rate = int(sample_rate)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InvalidAudio(f"A sample rate of {rate} Hz is not supported ({MIN_RATE}-{MAX_RATE} Hz).")
    array = np.asarray(samples)
    if array.dtype.kind not in "uifb":
        raise InvalidAudio(f"Audio samples must be numbers, not {array.dtype}.")
    array = frames_first(array)
    if array.shape[0] == 0:
        raise AudioTooShort(f"The audio clip is empty (0 ms); at least {MIN_SECONDS * 1000:.0f} ms of speech is "
                            "needed to estimate emotion from the voice.")
    seconds = array.shape[0] / rate
    if seconds < MIN_SECONDS:
        raise AudioTooShort(f"The audio clip is {seconds * 1000:.0f} ms long; at least {MIN_SECONDS * 1000:.0f} ms "
                            "of speech is needed to estimate emotion from the voice.")
    limit = int(max_seconds * rate)
    cut = array.shape[0] > limit
    # cut first (bounded work), scale integers to [-1, 1] before channels are mixed
    x, channels, warnings = to_mono(to_float(array[-limit:] if cut else array))
    if cut:
        warnings.append(f"clip is {seconds:.1f} s long; analysed its last {max_seconds:.0f} s")
    finite = np.isfinite(x)
    invalid = 1.0 - float(finite.mean())
    if invalid > MAX_INVALID_FRACTION:
        raise InvalidAudio(f"{invalid:.0%} of the audio samples are NaN or infinite; the clip cannot be analysed.")
    if invalid > 0:
        x = np.where(finite, x, 0.0)
        warnings.append(f"{invalid:.2%} of samples were NaN or infinite and were set to zero")
    peak = float(np.abs(x).max())
    if array.dtype.kind == "f" and peak > 1.0:
        warnings.append(f"float samples exceed full scale (peak {peak:.3g}); rescaled to [-1, 1]")
        x = x / peak
        peak = 1.0
    dc = float(x.mean())
    clipped = float((np.abs(x) >= CLIP_LEVEL).mean())
    if clipped > CLIP_WARN_FRACTION:
        warnings.append(f"audio is clipped ({clipped:.1%} of samples at full scale); loudness and emotion "
                        "are less reliable")
    if abs(dc) > DC_WARN_LEVEL:
        warnings.append(f"DC offset of {dc:+.3f} removed")
    x = _highpass(resample_to_16k(x - dc, rate))
    return PreparedAudio(
        samples=np.ascontiguousarray(x, dtype=np.float32), sample_rate=TARGET_RATE, source_rate=rate,
        source_channels=channels, source_seconds=seconds, peak=peak, clipped_fraction=clipped, dc_offset=dc,
        invalid_fraction=invalid, warnings=tuple(warnings),
    )


def load_audio(path: str | Path, max_seconds: float = MAX_SECONDS) -> PreparedAudio:
    """Read a WAV file and prepare it (see :func:`prepare_audio`)."""
    samples, rate = read_wav(path)
    return prepare_audio(samples, rate, max_seconds)
