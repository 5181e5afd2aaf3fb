"""Playing a recorded call back for review: the agent's side on the left, the customer's on the right.

The recordings are the Ogg/Opus files ``CallRecorder`` keeps per side (``call-agent.ogg``, ``call-customer.ogg``);
they are decoded once (soundfile), mixed to stereo and played through PortAudio (sounddevice) from any position.
The output callback only copies frames from the decoded array; ``position_s`` is what the transcript follows.
``pulse:SINK`` devices go through PortAudio's pulse device with ``PULSE_SINK`` set for the stream, as capture does.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from assist.capture.errors import CaptureError

SIDES = ("agent", "customer")  # left, right


def read_recording(paths: list[Path]) -> tuple[np.ndarray, int]:
    """The call's sides as one stereo float32 array (agent left, customer right) and its sample rate."""
    import soundfile

    sides: dict[str, np.ndarray] = {}
    rate = 0
    for path in paths:
        side = next((s for s in SIDES if s in path.stem), "customer")
        try:
            data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except (RuntimeError, OSError, soundfile.LibsndfileError) as exc:
            raise CaptureError(f"The recording {path.name} cannot be read ({exc}).") from exc
        if rate and file_rate != rate:
            raise CaptureError(f"The recordings have different sample rates ({rate} and {file_rate} Hz).")
        rate = file_rate
        sides[side] = data.mean(axis=1)
    if not sides:
        raise CaptureError("This session has no recording.")
    length = max(len(a) for a in sides.values())
    stereo = np.zeros((length, 2), dtype=np.float32)
    for column, side in enumerate(SIDES):
        if side in sides:
            stereo[: len(sides[side]), column] = sides[side]
    return stereo, rate


class CallPlayback:
    """Plays a recording from any second; ``position_s`` moves while it plays (thread-safe)."""

    def __init__(self, paths: list[Path], device: str | None = None, sd_module: Any = None) -> None:
        self.audio, self.rate = read_recording(paths)
        self.device = device
        self._sd = sd_module
        self._frame = 0
        self._stream: Any = None
        self._lock = threading.Lock()

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.rate

    @property
    def position_s(self) -> float:
        with self._lock:
            return self._frame / self.rate

    @property
    def playing(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    def seek(self, seconds: float) -> None:
        with self._lock:
            self._frame = int(max(0.0, min(self.duration_s, seconds)) * self.rate)

    def play(self, start_s: float | None = None) -> None:
        """Start (or restart) playing, from ``start_s`` or where it stopped."""
        self.stop()
        if start_s is not None:
            self.seek(start_s)
        if self._frame >= len(self.audio):
            self.seek(0.0)
        sd: Any = self._sd
        if sd is None:
            import sounddevice

            sd = sounddevice
        device, pulse_sink = self.device, None
        if device and device.startswith("pulse:"):
            device, pulse_sink = "pulse", device.split(":", 1)[1]
        previous = os.environ.get("PULSE_SINK")
        try:
            if pulse_sink:
                os.environ["PULSE_SINK"] = pulse_sink
            self._stream = sd.OutputStream(samplerate=self.rate, channels=2, dtype="float32", device=device,
                                           callback=self._callback)
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudio's errors: no output device, device busy...
            self._stream = None
            raise CaptureError(f"The recording cannot be played: {exc}") from exc
        finally:
            if pulse_sink:
                if previous is None:
                    os.environ.pop("PULSE_SINK", None)
                else:
                    os.environ["PULSE_SINK"] = previous

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        with self._lock:
            chunk = self.audio[self._frame : self._frame + frames]
            self._frame += len(chunk)
        outdata[: len(chunk)] = chunk
        if len(chunk) < frames:
            outdata[len(chunk) :] = 0
            raise (self._sd or __import__("sounddevice")).CallbackStop

    def stop(self) -> None:
        """Stop where it is (``play()`` goes on from there)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()


__all__ = ["CallPlayback", "read_recording"]
