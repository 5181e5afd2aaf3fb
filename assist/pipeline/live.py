"""A live call: both sides' audio -> 16 kHz -> utterances -> transcripts -> turns with Insights.

Qt-free and single-threaded: the owner (the GUI's pipeline worker, the CLI, a test) calls ``poll()``
every few tens of milliseconds. Sources fill their ring buffers on their own threads; ``poll`` drains
them, resamples, cuts utterances per channel (speaker = channel), shows partial transcripts of the
customer while they speak, and hands each finished utterance to the session controller, which records
it (redacted) and analyses the customer's turns with voice and words. ``stop()`` drains what is queued
and flushes the utterance in progress, so nothing captured before Stop is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assist.capture.audio import AGENT, CUSTOMER, TARGET_RATE
from assist.capture.errors import CaptureError
from assist.capture.resample import StreamResampler
from assist.capture.vad import Segmenter, SpeechSegment, SpeechStart, VadConfig
from assist.domain import EventKind, Role
from assist.pipeline.controller import SessionController, Turn

log = logging.getLogger("assist.live")

PARTIAL_INTERVAL_S = 0.5
MIN_PARTIAL_AUDIO_S = 0.4
# After this much quiet inside a customer's utterance, transcribe what it would be if the pause ends it: the
# VAD needs 600 ms of quiet to close an utterance, and the transcript is then (usually) already there.
SPECULATE_AFTER_MS = 150


@dataclass(frozen=True)
class Partial:
    channel: str
    text: str
    start_s: float
    audio_s: float


@dataclass
class LiveCallbacks:
    on_partial: Callable[[Partial], None] = lambda partial: None
    on_turn: Callable[[Turn, dict[str, Any]], None] = lambda turn, timing: None
    on_level: Callable[[str, float], None] = lambda channel, level_db: None
    on_error: Callable[[str], None] = lambda message: None


@dataclass
class _Channel:
    source: Any
    resampler: StreamResampler
    segmenter: Segmenter
    speech_started_at: float | None = None  # monotonic time the VAD saw the onset
    last_partial_at: float = 0.0
    partial_cost_s: float = 0.0
    first_partial_latency_s: float | None = None
    failed: bool = False
    timeline_s: float = 0.0
    speculative: tuple[float, int, Any] | None = None  # (start_s, samples, transcript) of the closing audio
    levels: list[float] = field(default_factory=list)


class LiveCall:
    """Runs one call through the pipeline; see the module docstring."""

    def __init__(self, controller: SessionController, sources: dict[str, Any], asr: Any, *,
                 callbacks: LiveCallbacks | None = None, vad: VadConfig | None = None,
                 partial_channels: tuple[str, ...] = (CUSTOMER,), recorder: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        unknown = set(sources) - {AGENT, CUSTOMER}
        if unknown:
            raise ValueError(f"unknown channels {unknown}")
        self.controller = controller
        self.asr = asr
        self.callbacks = callbacks or LiveCallbacks()
        self.partial_channels = partial_channels
        self.recorder = recorder
        self._clock = clock
        self.channels = {name: _Channel(src, StreamResampler(src.sample_rate), Segmenter(name, vad))
                         for name, src in sources.items()}
        self.turns: list[Turn] = []
        self.timings: list[dict[str, Any]] = []
        self.started = False

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Open every source; one that fails is reported and the call goes on with the others."""
        opened = 0
        for name, channel in self.channels.items():
            try:
                channel.source.start()
                opened += 1
            except CaptureError as exc:
                channel.failed = True
                self.callbacks.on_error(f"{name.capitalize()} audio: {exc}")
        if not opened:
            raise CaptureError("No audio source could be opened; check the devices in the call panel.")
        self.started = True

    def stop(self) -> None:
        """Stop capturing, then process what was queued and the utterance in progress."""
        for channel in self.channels.values():
            try:
                channel.source.stop()
            except Exception as exc:
                log.warning("stopping %s: %s", channel.source.name, exc)
        self.poll(final=True)
        if self.recorder is not None:
            self.recorder.close()
        self.controller.record_capture_stats(self.stats())
        self.started = False

    @property
    def finished(self) -> bool:
        """True when every source has ended on its own (a replayed file played to its end)."""
        return all(ch.failed or getattr(ch.source, "finished", False) for ch in self.channels.values())

    def stats(self) -> dict[str, Any]:
        out = {}
        for name, channel in self.channels.items():
            out[name] = channel.source.stats.to_dict(channel.source.sample_rate)
            out[name]["device"] = channel.source.name
            if channel.first_partial_latency_s is not None:
                out[name]["first_partial_latency_s"] = round(channel.first_partial_latency_s, 3)
            if self.recorder is not None and name in self.recorder.paths:
                out[name]["recording"] = str(self.recorder.paths[name])
        return out

    # --- the work -------------------------------------------------------------------------

    def poll(self, final: bool = False) -> int:
        """Do what has arrived; returns how many utterances were finished."""
        segments: list[SpeechSegment] = []
        for name, channel in self.channels.items():
            segments.extend(self._pull(name, channel, final))
        segments.sort(key=lambda seg: seg.end_s)
        for segment in segments:
            self._finish_utterance(segment)
        if not final:
            for name in self.partial_channels:
                speaking = self.channels.get(name)
                if speaking is None or not speaking.segmenter.in_speech:
                    continue
                if speaking.segmenter.silent_ms >= SPECULATE_AFTER_MS:
                    self._speculate(speaking)
                elif speaking.segmenter.silent_ms == 0:  # no partial once a pause has begun: the final is near
                    self._maybe_partial(name, speaking)
        return len(segments)

    def _pull(self, name: str, channel: _Channel, final: bool) -> list[SpeechSegment]:
        source = channel.source
        raw = source.read()
        if source.error and not channel.failed:
            channel.failed = True
            self.callbacks.on_error(f"{name.capitalize()} audio: {source.error} Capture goes on for the other side; "
                                    "what was heard before is kept.")
        samples = channel.resampler.process(raw) if len(raw) else np.zeros(0, dtype=np.float32)
        if self.recorder is not None and len(samples) and self.recorder.recording:
            self.recorder.write(name, samples)
            if not self.recorder.recording:  # the disk filled up or the folder went away: say so once
                self.callbacks.on_error(f"{self.recorder.error} The call goes on without recording.")
        events = channel.segmenter.feed(samples) if len(samples) else []
        if final or (channel.failed and channel.segmenter.in_speech):
            events += channel.segmenter.flush()
        if len(samples):
            channel.timeline_s += len(samples) / TARGET_RATE
            self.callbacks.on_level(name, channel.segmenter.level_db)
        found = []
        for event in events:
            if isinstance(event, SpeechStart):
                channel.speech_started_at = self._clock()
                channel.last_partial_at = 0.0
            else:
                found.append(event)
        return found

    def _maybe_partial(self, name: str, channel: _Channel) -> None:
        now = self._clock()
        interval = max(PARTIAL_INTERVAL_S, 2 * channel.partial_cost_s)  # never let partials starve the finals
        audio = channel.segmenter.current_audio()
        if len(audio) < MIN_PARTIAL_AUDIO_S * TARGET_RATE or now - channel.last_partial_at < interval:
            return
        began = time.perf_counter()
        try:
            transcript = self.asr.transcribe_partial(audio)
        except Exception as exc:
            log.warning("partial transcript failed: %s", exc)
            return
        channel.partial_cost_s = time.perf_counter() - began
        channel.last_partial_at = self._clock()
        text = transcript.text.strip()
        if text:
            if channel.first_partial_latency_s is None and channel.speech_started_at is not None:
                channel.first_partial_latency_s = channel.last_partial_at - channel.speech_started_at
            self.callbacks.on_partial(Partial(name, text, channel.segmenter.current_start_s, len(audio) / TARGET_RATE))

    def _speculate(self, channel: _Channel) -> None:
        audio = channel.segmenter.closing_audio()
        key = (channel.segmenter.current_start_s, len(audio))
        if channel.speculative is not None and channel.speculative[:2] == key:
            return
        try:
            channel.speculative = (*key, self.asr.transcribe(audio))
        except Exception as exc:
            log.warning("speculative transcript failed: %s", exc)
            channel.speculative = None

    def _finish_utterance(self, segment: SpeechSegment) -> None:
        began = time.perf_counter()
        spec = self.channels[segment.channel].speculative
        self.channels[segment.channel].speculative = None
        try:
            if spec is not None and spec[:2] == (segment.start_s, len(segment.samples)):
                transcript = spec[2]  # the pause ended the utterance where the speculative transcript assumed
            else:
                transcript = self.asr.transcribe(segment.samples)
        except Exception as exc:
            self.callbacks.on_error(f"Could not transcribe a {segment.seconds:.1f} s utterance: {exc}")
            return
        asr_ms = (time.perf_counter() - began) * 1000
        text = transcript.text.strip()
        role = Role.CUSTOMER if segment.channel == CUSTOMER else Role.AGENT
        if not text and role is Role.AGENT:
            return  # the agent's own noises carry nothing for the customer's analysis
        meta = {"channel": segment.channel, "start_s": round(segment.start_s, 3), "end_s": round(segment.end_s, 3),
                "cut": segment.reason, "asr": getattr(self.asr, "name", "asr"),
                "words": [list(w) for w in getattr(transcript, "words", None) or []]}
        voice = (segment.samples, TARGET_RATE) if role is Role.CUSTOMER else None
        try:
            turn = self.controller.submit(role, text, kind=EventKind.UTTERANCE, voice=voice, meta=meta)
        except Exception as exc:  # BadInput (nothing usable), a model failure: report, keep listening
            self.callbacks.on_error(f"Could not analyse an utterance: {exc}")
            return
        total_ms = (time.perf_counter() - began) * 1000
        timing = {"asr_ms": round(asr_ms, 1), "total_ms": round(total_ms, 1), "audio_s": round(segment.seconds, 2),
                  "channel": segment.channel, "speculative": transcript is (spec[2] if spec else None)}
        self.turns.append(turn)
        self.timings.append(timing)
        self.callbacks.on_turn(turn, timing)


def run_to_end(call: LiveCall, poll_interval_s: float = 0.05, timeout_s: float | None = None) -> None:
    """Poll a call until its sources end (a replayed file), then stop it. For the CLI and tests."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    call.start()
    try:
        while not call.finished:
            if deadline is not None and time.monotonic() > deadline:
                break
            if not call.poll():
                time.sleep(poll_interval_s)
    finally:
        call.stop()


__all__ = ["LiveCall", "LiveCallbacks", "Partial", "run_to_end"]
