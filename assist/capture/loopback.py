"""Windows: the customer's side of the call by WASAPI loopback of an output, through ``soundcard``.

sounddevice cannot open WASAPI loopback yet (python-sounddevice #510, waiting on a PortAudio release),
so this backend uses the ``soundcard`` library behind the same source interface. Its recorder has no
callback: a reader thread calls ``record()`` and only copies blocks into the ring buffer. "Stereo Mix"
or a virtual-cable input, listed by PortAudio, is the fallback where loopback fails.
The backend module is injectable so this is tested here with a fake; it runs for real only on Windows.
"""

from __future__ import annotations

import threading
from typing import Any

from assist.capture.audio import BLOCK_SECONDS, DEFAULT_BUFFER_SECONDS, TARGET_RATE, AudioDevice, _BufferedSource
from assist.capture.errors import AudioDeviceError

LOOPBACK_RATE = 48_000  # WASAPI shared mode runs at the mixer's rate; soundcard resamples to what we ask


def _backend(module: Any) -> Any:
    if module is not None:
        return module
    try:
        import soundcard
    except Exception as exc:  # ImportError, or its COM/CFFI set-up failing
        raise AudioDeviceError(f"Loopback capture is not available ({exc}); use 'Stereo Mix' or a virtual "
                               "cable input for the customer's side instead.") from exc
    return soundcard


def loopback_devices(module: Any = None) -> list[Any]:
    """One loopback input per output device ("what this computer plays on <speaker>")."""
    try:
        sc = _backend(module)
        default = sc.default_speaker()
        speakers = sc.all_speakers()
    except Exception:
        return []
    default_name = getattr(default, "name", None)
    return [AudioDevice(f"loopback:{s.name}", f"Output (loopback): {s.name}", "loopback", True,
                        s.name == default_name) for s in speakers]


class LoopbackSource(_BufferedSource):
    """Records what an output device plays; a reader thread copies each block into the ring buffer."""

    def __init__(self, channel: str, speaker_name: str, *, sample_rate: int = TARGET_RATE,
                 buffer_seconds: float = DEFAULT_BUFFER_SECONDS, backend: Any = None) -> None:
        super().__init__(channel, f"loopback: {speaker_name}", sample_rate, buffer_seconds)
        self._sc = _backend(backend)
        self.speaker_name = speaker_name
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        try:
            microphone = self._sc.get_microphone(id=self.speaker_name, include_loopback=True)
            recorder = microphone.recorder(samplerate=self.sample_rate, channels=1,
                                           blocksize=int(self.sample_rate * BLOCK_SECONDS))
            recorder.__enter__()
        except Exception as exc:
            raise AudioDeviceError(f"Could not open loopback of {self.speaker_name!r}: {exc}") from exc
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(recorder,), name="assist-loopback", daemon=True)
        self._thread.start()

    def _run(self, recorder: Any) -> None:
        frames = int(self.sample_rate * BLOCK_SECONDS)
        try:
            while not self._stop.is_set():
                self.buffer.push(recorder.record(numframes=frames))
        except Exception as exc:  # device removed or the audio service restarted
            self._fail(f"The loopback device stopped: {exc}")
        finally:
            try:
                recorder.__exit__(None, None, None)
            except Exception:
                pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None


__all__ = ["LOOPBACK_RATE", "LoopbackSource", "loopback_devices"]
