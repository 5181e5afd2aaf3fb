"""Optional call recording (off by default): each side of the call as its own Ogg/Opus file.

Written from the pipeline's thread as the 16 kHz audio is processed (never from an audio callback).
Opus at 16 kHz mono keeps speech clear at about 24 kbit/s: a 30-minute call is ~5 MB a side instead of
~58 MB as WAV. libsndfile (bundled in the ``soundfile`` wheel) does the encoding. A write error (disk
full, folder removed) stops the recording with a message; the call itself goes on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from assist.capture.audio import TARGET_RATE
from assist.capture.errors import CaptureError
from assist.paths import private_folder

log = logging.getLogger("assist.capture")


class CallRecorder:
    def __init__(self, folder: str | Path, max_seconds: float = 4 * 3600) -> None:
        self.folder = Path(folder)
        self.max_frames = int(max_seconds * TARGET_RATE)
        self.files: dict[str, Any] = {}
        self.paths: dict[str, Path] = {}
        self.frames: dict[str, int] = {}
        self.error: str | None = None
        try:
            import soundfile
        except (ImportError, OSError) as exc:
            raise CaptureError(f"Call recording is not available ({exc}).") from exc
        self._sf = soundfile
        try:
            private_folder(self.folder.parent)  # sessions/ and sessions/<id>/, owner-only
            private_folder(self.folder)
        except OSError as exc:
            raise CaptureError(f"Cannot record the call into {self.folder}: {exc.strerror or exc}.") from exc

    @property
    def recording(self) -> bool:
        return self.error is None

    def write(self, channel: str, samples: np.ndarray) -> None:
        if self.error is not None or not len(samples):
            return
        try:
            handle = self.files.get(channel)
            if handle is None:
                path = self.folder / f"call-{channel}.ogg"
                handle = self._sf.SoundFile(str(path), "w", TARGET_RATE, 1, format="OGG", subtype="OPUS")
                os.chmod(path, 0o600)
                self.files[channel], self.paths[channel], self.frames[channel] = handle, path, 0
            room = self.max_frames - self.frames[channel]
            if room <= 0:
                return
            chunk = np.clip(np.asarray(samples, dtype=np.float32)[:room], -1.0, 1.0)
            handle.write(chunk)
            self.frames[channel] += len(chunk)
        except Exception as exc:  # disk full, folder gone: stop recording, keep the call going
            self.error = f"Recording stopped: {exc}"
            log.warning("%s", self.error)
            self.close()

    def close(self) -> dict[str, str]:
        """Finish the files; returns channel -> path of what was recorded."""
        for channel, handle in list(self.files.items()):
            try:
                handle.close()
            except Exception as exc:
                log.warning("closing the %s recording: %s", channel, exc)
        self.files.clear()
        return {channel: str(path) for channel, path in self.paths.items()}

    def summary(self) -> dict[str, Any]:
        return {"files": {c: str(p) for c, p in self.paths.items()},
                "seconds": {c: round(n / TARGET_RATE, 2) for c, n in self.frames.items()}, "error": self.error}


__all__ = ["CallRecorder"]
