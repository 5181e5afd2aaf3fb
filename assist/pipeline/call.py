"""What the agent asks for when pressing Start call, and building the LiveCall for it (Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assist.capture.audio import AGENT, CUSTOMER, ReplaySources
from assist.capture.devices import default_device, list_devices, open_source
from assist.capture.errors import CaptureError
from assist.inference.errors import ModelUnavailable
from assist.pipeline.controller import SessionController
from assist.pipeline.live import LiveCall, LiveCallbacks


@dataclass(frozen=True)
class CallRequest:
    """Devices by key (see ``assist devices``); "" = none for that side, None = the system default.

    ``replay`` plays a WAV file as the call instead (mono = customer; stereo = agent left, customer right).
    """

    agent_device: str | None = None
    customer_device: str | None = None
    replay: str | None = None
    speed: float = 1.0
    record: bool = False  # save each side's audio (Ogg/Opus) with the session, for supervisors


def resolve_devices(request: CallRequest) -> dict[str, str]:
    """Side -> device key, defaults filled in; raises CaptureError when no side has a device."""
    wanted = {AGENT: request.agent_device, CUSTOMER: request.customer_device}
    devices = None
    keys: dict[str, str] = {}
    for side, key in wanted.items():
        if key == "":
            continue
        if key is None:
            devices = devices if devices is not None else list_devices()
            device = default_device(side, devices)
            if device is None:
                continue
            key = device.key
        keys[side] = key
    if not keys:
        raise CaptureError("No audio input was found. Plug in a headset or pick the devices in the call panel; "
                           "on Linux the customer's side is the '.monitor' of the output your softphone plays to.")
    return keys


def open_call(controller: SessionController, request: CallRequest, callbacks: LiveCallbacks,
              data_dir: Path | None = None) -> LiveCall:
    """The LiveCall for ``request`` (not started). Raises CaptureError / ModelUnavailable with plain words.

    A recording goes to ``<data_dir>/<session id>/`` (default: beside the journal)."""
    asr = getattr(controller.engines, "asr", None)
    if asr is None:
        raise ModelUnavailable("No speech recogniser is loaded, so calls cannot be transcribed; see the notes "
                               "shown at start-up.")
    sources: dict[str, Any]
    if request.replay:
        sources = dict(ReplaySources(request.replay, speed=request.speed).sources)
    else:
        sources = {}
        for side, key in resolve_devices(request).items():
            try:
                sources[side] = open_source(side, key)
            except CaptureError as exc:
                callbacks.on_error(f"{side.capitalize()} audio: {exc}")
        if not sources:
            raise CaptureError("None of the chosen audio devices could be opened.")
    recorder = None
    if request.record and controller.session is not None:
        from assist.capture.recording import CallRecorder
        from assist.pipeline.screens import default_data_dir

        recorder = CallRecorder((data_dir or default_data_dir()) / controller.session.id)
    return LiveCall(controller, sources, asr, callbacks=callbacks, recorder=recorder)


__all__ = ["CallRequest", "open_call", "resolve_devices"]
