"""Call audio sources: agent microphone and the customer's side, each feeding a bounded ring buffer.

An audio callback (PortAudio's thread, or a backend's reader thread) only copies frames into a
:class:`RingBuffer` and counts overflows; resampling, VAD, recognition and storage happen in the
pipeline's worker, which drains the buffer with :meth:`AudioSource.read`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from assist.capture.errors import AudioDeviceError

log = logging.getLogger("assist.capture")

AGENT = "agent"
CUSTOMER = "customer"
TARGET_RATE = 16_000
DEFAULT_BUFFER_SECONDS = 60.0
BLOCK_SECONDS = 0.02


@dataclass(frozen=True)
class AudioDevice:
    """One input a side of the call can use. ``key`` is stable across runs (stored in settings)."""

    key: str  # "pulse:<source name>", "portaudio:<device name>", "loopback:<speaker name>"
    label: str
    backend: str  # pulse | portaudio | loopback
    loopback: bool  # True: what the computer plays (the customer's side)
    default: bool = False


@dataclass
class CaptureStats:
    """What a source saw: frames in, frames lost because the buffer was full, driver overflows."""

    frames: int = 0
    dropped_frames: int = 0  # ring buffer full: the worker fell behind by more than the buffer holds
    overflows: int = 0  # the driver reported an input overflow (frames lost before they reached us)
    errors: list[str] = field(default_factory=list)

    def to_dict(self, sample_rate: int) -> dict[str, Any]:
        return {"seconds": round(self.frames / max(sample_rate, 1), 2), "overflows": self.overflows,
                "dropped_frames": self.dropped_frames, "errors": list(self.errors)}


class RingBuffer:
    """A bounded FIFO of audio blocks; when full, the oldest block goes and is counted as dropped."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = int(max_frames)
        self._blocks: deque[np.ndarray] = deque()
        self._frames = 0
        self._lock = threading.Lock()
        self.stats = CaptureStats()

    def push(self, block: np.ndarray, overflow: bool = False) -> None:
        """Copy ``block`` in (callback-safe: no allocation beyond the copy, no I/O)."""
        copy = np.array(block, dtype=np.float32, copy=True)
        with self._lock:
            self.stats.frames += len(copy)
            if overflow:
                self.stats.overflows += 1
            self._blocks.append(copy)
            self._frames += len(copy)
            while self._frames > self.max_frames and len(self._blocks) > 1:
                old = self._blocks.popleft()
                self._frames -= len(old)
                self.stats.dropped_frames += len(old)

    def drain(self) -> np.ndarray:
        """Everything queued, oldest first, as one (frames, channels) array (possibly empty)."""
        with self._lock:
            blocks = list(self._blocks)
            self._blocks.clear()
            self._frames = 0
        if not blocks:
            return np.zeros((0, 1), dtype=np.float32)
        return np.concatenate([b.reshape(len(b), -1) for b in blocks])

    @property
    def queued_frames(self) -> int:
        with self._lock:
            return self._frames


class AudioSource(Protocol):
    """One side of the call. ``read()`` drains what arrived; ``error`` is set when the stream died."""

    channel: str
    name: str
    sample_rate: int
    stats: CaptureStats
    error: str | None

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def read(self) -> np.ndarray: ...

    @property
    def finished(self) -> bool: ...


class _BufferedSource:
    """Shared part: the ring buffer, stats and the error a backend reports."""

    def __init__(self, channel: str, name: str, sample_rate: int, buffer_seconds: float) -> None:
        self.channel = channel
        self.name = name
        self.sample_rate = int(sample_rate)
        self.buffer = RingBuffer(int(buffer_seconds * self.sample_rate))
        self.error: str | None = None

    @property
    def stats(self) -> CaptureStats:
        return self.buffer.stats

    def read(self) -> np.ndarray:
        return self.buffer.drain()

    @property
    def finished(self) -> bool:
        return False

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message
            self.buffer.stats.errors.append(message)
            log.warning("%s (%s): %s", self.name, self.channel, message)


_ENV_LOCK = threading.Lock()
_OPEN_STREAMS = 0  # PortAudio streams open in this process (a device re-scan must not close them)
_COUNT_LOCK = threading.Lock()


def rescan_portaudio(sd: Any) -> bool:
    """Make PortAudio list devices again: it enumerates them once, when it starts, so a headset plugged in or a
    sound server started since then is otherwise invisible. Only while no stream is open; True if done."""
    if _OPEN_STREAMS:
        return False
    try:
        sd._terminate()
        sd._initialize()
    except Exception:  # a backend without these (or a test double): keep the old list
        return False
    return True


class SoundDeviceSource(_BufferedSource):
    """A PortAudio input through sounddevice.

    ``pulse_source`` names a PulseAudio/PipeWire source (a microphone, or an output's ``.monitor``:
    the customer's side without a virtual cable); it is opened through PortAudio's ``pulse`` device
    with ``PULSE_SOURCE`` set for that stream only.
    """

    def __init__(self, channel: str, device: int | str | None = None, *, pulse_source: str | None = None,
                 sample_rate: int | None = None, buffer_seconds: float = DEFAULT_BUFFER_SECONDS,
                 name: str | None = None, sd_module: Any = None) -> None:
        self._sd = sd_module if sd_module is not None else _import_sounddevice()
        self.device = "pulse" if pulse_source else device
        self.pulse_source = pulse_source
        rate = sample_rate or self._pick_rate()
        super().__init__(channel, name or pulse_source or str(device or "default input"), rate, buffer_seconds)
        self._stream: Any = None

    def _pick_rate(self, rescanned: bool = False) -> int:
        """16 kHz when the device takes it (no resampling), else the device's own rate."""
        try:
            self._sd.check_input_settings(device=self.device, samplerate=TARGET_RATE, channels=1, dtype="float32")
            return TARGET_RATE
        except Exception:
            try:
                info = self._sd.query_devices(self.device, "input")
            except Exception as exc:
                if not rescanned and rescan_portaudio(self._sd):  # it may have appeared since start-up
                    return self._pick_rate(rescanned=True)
                raise AudioDeviceError(f"Audio device {self.device!r} is not available: {exc}") from exc
            return int(info["default_samplerate"])

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self.buffer.push(indata, overflow=bool(getattr(status, "input_overflow", False)))

    def _finished(self) -> None:
        if self._stream is not None and not getattr(self, "_stopping", False):
            self._fail("The audio device stopped delivering sound (unplugged or taken by another program).")

    def start(self) -> None:
        self._stopping = False
        try:
            with _ENV_LOCK:
                previous = os.environ.get("PULSE_SOURCE")
                if self.pulse_source:
                    os.environ["PULSE_SOURCE"] = self.pulse_source
                try:
                    self._stream = self._sd.InputStream(
                        device=self.device, channels=1, samplerate=self.sample_rate, dtype="float32",
                        blocksize=int(self.sample_rate * BLOCK_SECONDS), callback=self._callback,
                        finished_callback=self._finished)
                    self._stream.start()
                    _count_stream(+1)
                finally:
                    if self.pulse_source:
                        _restore_env("PULSE_SOURCE", previous)
        except Exception as exc:
            self._stream = None
            raise AudioDeviceError(f"Could not open {self.name} for the {self.channel}'s side: {exc}") from exc

    def stop(self) -> None:
        self._stopping = True
        stream, self._stream = self._stream, None
        if stream is not None:
            _count_stream(-1)
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # a device already gone: what was captured is in the buffer
                log.warning("closing %s: %s", self.name, exc)

    def read(self) -> np.ndarray:
        stream = self._stream
        if stream is not None and self.error is None and not getattr(stream, "active", True):
            self._fail("The audio stream stopped (device unplugged or failed).")
        return super().read()


def _count_stream(delta: int) -> None:
    global _OPEN_STREAMS
    with _COUNT_LOCK:
        _OPEN_STREAMS = max(0, _OPEN_STREAMS + delta)


def _restore_env(key: str, previous: str | None) -> None:
    if previous is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = previous


def _import_sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library itself is missing
        raise AudioDeviceError(
            f"Audio capture is not available: {exc}. On Linux install PortAudio (apt install libportaudio2)."
        ) from exc
    return sounddevice


class ReplaySources:
    """Plays a WAV file as if it were a live call: mono = the customer; stereo = agent (left), customer (right).

    One thread pushes blocks at real time (``speed`` 1.0) or faster into each side's ring buffer.
    """

    def __init__(self, path: str, speed: float = 1.0, buffer_seconds: float = DEFAULT_BUFFER_SECONDS,
                 block_seconds: float = 0.05, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        samples, rate = read_wav(path)
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.path, self.speed, self.sample_rate = path, float(speed), rate
        self._samples = samples
        self._block = max(1, int(rate * block_seconds))
        self._clock, self._sleep = clock, sleep
        channels = [AGENT, CUSTOMER] if samples.shape[1] >= 2 else [CUSTOMER]
        self.sources = {ch: _ReplaySide(ch, f"{os.path.basename(path)} ({ch})", rate, buffer_seconds, self)
                        for ch in channels}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self.position = 0

    @property
    def seconds(self) -> float:
        return len(self._samples) / self.sample_rate

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="assist-replay", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def _run(self) -> None:
        began = self._clock()
        total = len(self._samples)
        try:
            while self.position < total and not self._stop.is_set():
                block = self._samples[self.position:self.position + self._block]
                for index, side in enumerate(self.sources.values()):
                    column = index if len(self.sources) > 1 else 0
                    side.buffer.push(block[:, column:column + 1])
                self.position += len(block)
                due = began + self.position / self.sample_rate / self.speed
                wait = due - self._clock()
                if wait > 0:
                    self._sleep(wait)
        finally:
            self._done.set()


class _ReplaySide(_BufferedSource):
    def __init__(self, channel: str, name: str, rate: int, buffer_seconds: float, owner: ReplaySources) -> None:
        super().__init__(channel, name, rate, buffer_seconds)
        self._owner = owner

    def start(self) -> None:
        self._owner.start()

    def stop(self) -> None:
        self._owner.stop()

    @property
    def finished(self) -> bool:
        return self._owner.finished and self.buffer.queued_frames == 0


def read_wav(path: str) -> tuple[np.ndarray, int]:
    """A WAV file as float32 (frames, channels) in [-1, 1] and its rate; AudioDeviceError if unreadable."""
    import wave

    try:
        with wave.open(str(path), "rb") as wav:
            rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        try:  # float or 24-bit WAVs that the stdlib reader refuses
            from scipy.io import wavfile

            rate, data = wavfile.read(str(path))
        except Exception:
            raise AudioDeviceError(f"Cannot play {path}: not a readable WAV file ({exc}).") from exc
        return _to_float(np.asarray(data)), int(rate)
    if width not in (1, 2, 4):
        raise AudioDeviceError(f"Cannot play {path}: {8 * width}-bit WAV is not supported.")
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}[width]
    data = np.frombuffer(raw, dtype=dtype).reshape(-1, channels)
    return _to_float(data), int(rate)


def write_wav(path: str | os.PathLike, samples: np.ndarray, rate: int = TARGET_RATE) -> str:
    """16-bit PCM WAV from float samples in [-1, 1]: (frames,) mono or (frames, channels)."""
    import wave

    data = np.asarray(samples, dtype=np.float32)
    frames = data.reshape(len(data), -1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(2)
        out.setframerate(int(rate))
        out.writeframes((np.clip(frames, -1, 1) * 32767).astype("<i2").tobytes())
    return str(path)


def _to_float(data: np.ndarray) -> np.ndarray:
    data = data.reshape(len(data), -1)
    if data.dtype == np.uint8:
        out = (data.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        out = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    else:
        out = data.astype(np.float32)
    return np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=-1.0)


__all__ = ["AGENT", "CUSTOMER", "TARGET_RATE", "AudioSource", "CaptureStats", "ReplaySources", "RingBuffer",
           "SoundDeviceSource", "read_wav", "write_wav"]
