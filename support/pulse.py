"""A real PulseAudio server with a null sink for the live-capture tests (test helper, not app code).

Starts ``pulseaudio`` when none answers (CI runs as root: ``--system=false`` with a warning is fine),
loads ``module-null-sink``, and unloads/stops what it started afterwards. Speech is played into the
sink with ``paplay``; the app captures the sink's ``.monitor`` through its real capture code.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path


def _pactl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10, check=check)


def missing_tools() -> list[str]:
    return [tool for tool in ("pulseaudio", "pactl", "paplay", "espeak-ng") if shutil.which(tool) is None]


class NullSink:
    def __init__(self) -> None:
        self.name = f"assist_test_{uuid.uuid4().hex[:8]}"
        self.module: str | None = None
        self.started_server = False

    @property
    def monitor(self) -> str:
        return f"{self.name}.monitor"

    def __enter__(self) -> NullSink:
        if _pactl("info", check=False).returncode != 0:
            subprocess.run(["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--system=false", "-n",
                            "--load=module-native-protocol-unix", "--load=module-always-sink"],
                           capture_output=True, timeout=20, check=False)
            self.started_server = True
            deadline = time.monotonic() + 10
            while _pactl("info", check=False).returncode != 0:
                if time.monotonic() > deadline:
                    raise RuntimeError("pulseaudio did not start")
                time.sleep(0.1)
        self.module = _pactl("load-module", "module-null-sink", f"sink_name={self.name}",
                             "rate=48000").stdout.strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.module:
            _pactl("unload-module", self.module, check=False)
        if self.started_server:
            subprocess.run(["pulseaudio", "--kill"], capture_output=True, timeout=10, check=False)

    def play(self, wav: Path) -> subprocess.Popen:
        return subprocess.Popen(["paplay", f"--device={self.name}", str(wav)])


def say(text: str, path: Path, speed: int = 150) -> Path:
    """Synthesise ``text`` to a WAV with espeak-ng (22.05 kHz mono)."""
    subprocess.run(["espeak-ng", "-s", str(speed), "-w", str(path), text], check=True, timeout=30)
    return path
