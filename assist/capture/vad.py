"""Voice activity detection and utterance cutting for one channel of 16 kHz mono audio.

A documented energy + spectral detector with hangover (no model, no dependency):
- per 30 ms frame (DC removed): level in dBFS and spectral flatness of the 100-4000 Hz band;
- the noise floor is the 10th percentile of the last 5 s of frame levels, so it follows steady
  hum, fans and line noise within seconds and drops back at once in the pauses of a monologue;
- speech starts after ``start_frames`` of ``start_window`` frames are ``start_db`` above the floor,
  above an absolute ``min_level_db``, neither flat like noise nor a pure tone (``min_flatness`` <
  flatness < ``max_flatness``: the 100-4000 Hz flatness of voiced speech measured here is 2e-4..0.3,
  a hum or a ringback tone ~1e-8, white noise ~0.58);
- speech continues while frames are ``continue_db`` above the floor, and the utterance ends after
  ``end_silence_ms`` without such a frame (the hangover keeps short gaps between words inside);
- an utterance longer than ``max_seconds`` is cut at the quietest frame of its last 2 s and goes on
  as a new one, so a 10-minute monologue is transcribed in pieces;
- ``pre_roll_ms`` of audio before the onset is kept, so the first syllable is not clipped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from assist.capture.audio import TARGET_RATE

TAIL_MS = 150  # kept after the last voiced frame, so a word's decay is not cut


@dataclass(frozen=True)
class VadConfig:
    frame_ms: int = 30
    start_db: float = 12.0
    continue_db: float = 7.0
    min_level_db: float = -50.0
    max_flatness: float = 0.5  # white-ish noise is flatter than speech (hiss, fans)
    min_flatness: float = 5e-5  # pure tones are far less flat than speech (mains hum, dial and ringback tones)
    start_frames: int = 3
    start_window: int = 5
    end_silence_ms: int = 600
    pre_roll_ms: int = 300
    min_speech_ms: int = 240
    max_seconds: float = 15.0
    floor_seconds: float = 5.0


@dataclass(frozen=True)
class SpeechSegment:
    """One utterance of one channel: its samples and where it sits in the channel's timeline."""

    channel: str
    samples: np.ndarray  # float32, 16 kHz mono
    start_s: float
    end_s: float
    reason: str  # pause | max_length | end_of_stream

    @property
    def seconds(self) -> float:
        return len(self.samples) / TARGET_RATE


@dataclass(frozen=True)
class SpeechStart:
    channel: str
    start_s: float


class Segmenter:
    """Feed 16 kHz samples as they come; get SpeechStart / SpeechSegment events back."""

    def __init__(self, channel: str, config: VadConfig | None = None) -> None:
        self.channel = channel
        self.config = config or VadConfig()
        c = self.config
        self.frame = TARGET_RATE * c.frame_ms // 1000
        self._pending = np.zeros(0, dtype=np.float32)  # samples not yet a whole frame
        self._levels: deque[float] = deque(maxlen=max(1, int(c.floor_seconds * 1000 / c.frame_ms)))
        self._recent: deque[bool] = deque(maxlen=c.start_window)
        self._pre_roll: deque[np.ndarray] = deque(maxlen=max(1, c.pre_roll_ms // c.frame_ms))
        self._speech: list[np.ndarray] = []  # frames of the current utterance
        self._speech_levels: list[float] = []
        self._voiced_frames = 0
        self._silent_frames = 0
        self._frames_seen = 0
        self._start_frame = 0
        self.level_db = -100.0

    @property
    def in_speech(self) -> bool:
        return bool(self._speech)

    @property
    def now_s(self) -> float:
        return self._frames_seen * self.frame / TARGET_RATE

    @property
    def current_start_s(self) -> float:
        return self._start_frame * self.frame / TARGET_RATE

    @property
    def silent_ms(self) -> int:
        """How long the utterance in progress has been quiet (0 outside speech or while voiced)."""
        return self._silent_frames * self.config.frame_ms if self._speech else 0

    def _keep_frames(self) -> int:
        return len(self._speech) - self._silent_frames + max(1, TAIL_MS // self.config.frame_ms)

    def closing_audio(self) -> np.ndarray:
        """The samples this utterance would have if the pause going on now ends it (for a speculative
        transcript: identical to the SpeechSegment's samples when no more speech comes)."""
        if not self._speech:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._speech[:max(1, min(self._keep_frames(), len(self._speech)))]).astype(np.float32)

    def current_audio(self) -> np.ndarray:
        """The utterance so far (for partial transcripts); empty outside speech."""
        return np.concatenate(self._speech) if self._speech else np.zeros(0, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> list[SpeechStart | SpeechSegment]:
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32).reshape(-1)])
        whole = len(data) // self.frame * self.frame
        self._pending = data[whole:]
        events: list[SpeechStart | SpeechSegment] = []
        for offset in range(0, whole, self.frame):
            events.extend(self._frame(data[offset:offset + self.frame]))
        return events

    def flush(self) -> list[SpeechStart | SpeechSegment]:
        """End of stream: the utterance in progress (if long enough) comes out now."""
        if not self._speech:
            return []
        return self._finish("end_of_stream", len(self._speech))

    def _frame(self, frame: np.ndarray) -> list[SpeechStart | SpeechSegment]:
        c = self.config
        level, flatness = frame_features(frame)
        self.level_db = level
        self._levels.append(level)
        floor = float(np.percentile(self._levels, 10)) if len(self._levels) >= 5 else -100.0
        floor = max(floor, -90.0)
        self._frames_seen += 1
        loud_enough = level >= c.min_level_db
        starts = loud_enough and level >= floor + c.start_db and c.min_flatness < flatness < c.max_flatness
        continues = loud_enough and level >= floor + c.continue_db
        if not self._speech:
            self._recent.append(starts)
            self._pre_roll.append(frame)
            if sum(self._recent) >= c.start_frames:
                frames = list(self._pre_roll)
                self._speech = frames
                self._speech_levels = [level] * len(frames)
                self._start_frame = self._frames_seen - len(frames)
                self._voiced_frames = sum(self._recent)
                self._silent_frames = 0
                self._recent.clear()
                self._pre_roll.clear()
                return [SpeechStart(self.channel, self.current_start_s)]
            return []
        self._speech.append(frame)
        self._speech_levels.append(level)
        if continues:
            self._voiced_frames += 1
            self._silent_frames = 0
        else:
            self._silent_frames += 1
        if self._silent_frames * c.frame_ms >= c.end_silence_ms:
            return self._finish("pause", self._keep_frames())
        if len(self._speech) * c.frame_ms >= c.max_seconds * 1000:
            return self._cut_long()
        return []

    def _cut_long(self) -> list[SpeechStart | SpeechSegment]:
        """Cut at the quietest frame of the last 2 s; the rest starts the next piece."""
        look = min(len(self._speech) - 1, 2000 // self.config.frame_ms)
        tail_levels = self._speech_levels[-look:]
        cut = len(self._speech) - look + int(np.argmin(tail_levels)) + 1
        rest, rest_levels = self._speech[cut:], self._speech_levels[cut:]
        events = self._finish("max_length", cut)
        self._speech, self._speech_levels = rest, rest_levels
        self._start_frame = self._frames_seen - len(rest)
        self._voiced_frames = len(rest)
        events.append(SpeechStart(self.channel, self.current_start_s))
        if not self._speech:  # the cut fell on the last frame: stay in speech with an empty piece
            self._speech = [np.zeros(0, dtype=np.float32)]
            self._speech_levels = [self.level_db]
        return events

    def _finish(self, reason: str, keep: int) -> list[SpeechStart | SpeechSegment]:
        frames = self._speech[:max(1, min(keep, len(self._speech)))]
        start = self.current_start_s
        voiced_ms = self._voiced_frames * self.config.frame_ms
        self._speech, self._speech_levels = [], []
        self._voiced_frames = self._silent_frames = 0
        self._recent.clear()
        if voiced_ms < self.config.min_speech_ms:  # a click or a cough, not an utterance
            return []
        samples = np.concatenate(frames).astype(np.float32)
        return [SpeechSegment(self.channel, samples, start, start + len(samples) / TARGET_RATE, reason)]


_BAND: dict[int, np.ndarray] = {}


def frame_features(frame: np.ndarray) -> tuple[float, float]:
    """(level in dBFS of the 100-4000 Hz band, spectral flatness of that band) of one frame.

    Band-limiting keeps mains hum, rumble and DC steps out of the level; the window's power is
    rescaled so a full-scale sine in the band reads about -3 dBFS, as without the window.
    """
    x = frame.astype(np.float64)
    window = np.hanning(len(x))
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * window)) ** 2 + 1e-12
    band = _BAND.get(len(x))
    if band is None:
        freqs = np.fft.rfftfreq(len(x), 1.0 / TARGET_RATE)
        band = _BAND[len(x)] = (freqs >= 100) & (freqs <= 4000)
    s = spectrum[band]
    power = 2.0 * float(s.sum()) / (len(x) * float(np.sum(window**2)))
    level = 10.0 * np.log10(power + 1e-10)
    flatness = float(np.exp(np.mean(np.log(s))) / np.mean(s))
    return level, flatness


__all__ = ["Segmenter", "SpeechSegment", "SpeechStart", "VadConfig", "frame_features"]
