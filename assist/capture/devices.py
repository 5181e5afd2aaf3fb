"""Which audio inputs exist, and which to use for each side of the call.

Linux: PulseAudio/PipeWire sources are listed with ``pactl`` (PipeWire ships a pactl too); every
output has a ``.monitor`` source, which is the customer's side of a softphone call, and it is opened
through PortAudio's ``pulse`` device. Without pactl (plain ALSA), PortAudio's own inputs are listed.
Windows: the customer's side is WASAPI loopback of an output (``assist.capture.loopback``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import Any

from assist.capture.audio import (
    AGENT,
    CUSTOMER,
    DEFAULT_BUFFER_SECONDS,
    AudioDevice,
    SoundDeviceSource,
    rescan_portaudio,
)
from assist.capture.errors import AudioDeviceError


def _pactl(*args: str) -> str:
    if shutil.which("pactl") is None:
        raise FileNotFoundError("pactl")
    return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=5, check=True).stdout


def pulse_sources() -> list[AudioDevice]:
    """PulseAudio/PipeWire sources (microphones and output monitors); empty without a sound server."""
    try:
        listing = _pactl("list", "short", "sources")
        default_source = _pactl("get-default-source").strip()
        default_sink = _pactl("get-default-sink").strip()
    except (OSError, subprocess.SubprocessError):
        return []
    devices = []
    for line in listing.splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        name = parts[1]
        monitor = name.endswith(".monitor")
        label = f"Output monitor: {name[:-8]}" if monitor else f"Microphone: {name}"
        default = name == (f"{default_sink}.monitor" if monitor else default_source)
        devices.append(AudioDevice(f"pulse:{name}", label, "pulse", monitor, default))
    return devices


def portaudio_inputs(sd_module: Any = None) -> list[AudioDevice]:
    """PortAudio's input devices (ALSA, or MME/WASAPI inputs on Windows)."""
    try:
        sd = sd_module if sd_module is not None else __import__("sounddevice")
        rescan_portaudio(sd)  # the list PortAudio made at start-up misses devices plugged in since
        devices = sd.query_devices()
        default_in = sd.default.device[0]
    except Exception:
        return []
    found = []
    for index, info in enumerate(devices):
        if info.get("max_input_channels", 0) > 0:
            name = str(info["name"])
            mix = any(word in name.lower() for word in ("stereo mix", "loopback", "cable output", "monitor"))
            found.append(AudioDevice(f"portaudio:{name}", name, "portaudio", mix, index == default_in))
    return found


def list_devices(sd_module: Any = None, loopback_backend: Any = None) -> list[AudioDevice]:
    """Every input the device picker offers, sound-server sources first."""
    devices = pulse_sources() if sys.platform.startswith("linux") else []
    if sys.platform == "win32" or loopback_backend is not None:
        from assist.capture.loopback import loopback_devices

        devices += loopback_devices(loopback_backend)
    devices += portaudio_inputs(sd_module)
    return devices


def default_device(side: str, devices: list[AudioDevice]) -> AudioDevice | None:
    """The agent's default microphone, or the default output's monitor/loopback for the customer."""
    want_loopback = side == CUSTOMER
    candidates = [d for d in devices if d.loopback == want_loopback]
    for device in candidates:
        if device.default:
            return device
    return candidates[0] if candidates else None


def open_source(side: str, key: str, buffer_seconds: float = DEFAULT_BUFFER_SECONDS, sd_module: Any = None,
                loopback_backend: Any = None) -> Any:
    """An AudioSource for ``side`` (agent/customer) from a device key; AudioDeviceError when unusable."""
    if side not in (AGENT, CUSTOMER):
        raise ValueError(side)
    backend, _, name = key.partition(":")
    if backend == "pulse":
        return SoundDeviceSource(side, pulse_source=name, buffer_seconds=buffer_seconds, name=name,
                                 sd_module=sd_module)
    if backend == "portaudio":
        return SoundDeviceSource(side, device=name or None, buffer_seconds=buffer_seconds, sd_module=sd_module)
    if backend == "loopback":
        from assist.capture.loopback import LoopbackSource

        return LoopbackSource(side, name, buffer_seconds=buffer_seconds, backend=loopback_backend)
    raise AudioDeviceError(f"Unknown audio device {key!r}: pick one in Settings > Audio.")


__all__ = ["AudioDevice", "default_device", "list_devices", "open_source", "portaudio_inputs", "pulse_sources"]
