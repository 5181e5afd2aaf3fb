"""Regenerate ``call.wav``: the late-order demo conversation as a two-channel call (agent left, customer
right, 16 kHz 16-bit), voiced by espeak-ng. Run: ``python resources/demo/make_call.py`` (needs espeak-ng)."""

from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from assist.capture.audio import write_wav

HERE = Path(__file__).resolve().parent
VOICES = {"agent": ["-v", "en-us+m3", "-s", "165"], "customer": ["-v", "en-gb+f2", "-s", "160"]}
PAUSE_S = 0.9


def speak(text: str, role: str, folder: Path) -> np.ndarray:
    path = folder / "turn.wav"
    subprocess.run(["espeak-ng", *VOICES[role], "-w", str(path), text], check=True)
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
        rate = w.getframerate()
    return resample_poly(data, 16000, rate).astype(np.float32) if rate != 16000 else data


def main() -> None:
    script = json.loads((HERE / "late_order.json").read_text(encoding="utf-8"))["messages"][:7]
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as tmp:
        for message in script:
            samples = speak(message["text"], message["role"], Path(tmp))
            silent, pause = np.zeros_like(samples), np.zeros(int(PAUSE_S * 16000), np.float32)
            left += [samples if message["role"] == "agent" else silent, pause]
            right += [samples if message["role"] == "customer" else silent, pause]
    data = np.stack([np.concatenate(left), np.concatenate(right)], axis=1)
    write_wav(HERE / "call.wav", data)
    print(f"wrote {HERE / 'call.wav'}: {len(data) / 16000:.1f} s")


if __name__ == "__main__":
    main()
