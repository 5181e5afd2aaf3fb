"""Capture library: ring buffer, resampling, VAD, replay, device listing and the backends (fakes here;
the real PulseAudio path is in test_live_call.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from assist.capture.audio import RingBuffer, SoundDeviceSource, read_wav
from assist.capture.devices import AudioDevice, default_device, open_source, portaudio_inputs
from assist.capture.errors import AudioDeviceError
from assist.capture.resample import StreamResampler, to_16k_mono
from assist.capture.vad import Segmenter, SpeechSegment, SpeechStart, VadConfig

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
RATE = 16_000


def speech() -> np.ndarray:
    samples, rate = read_wav(str(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"))
    return to_16k_mono(samples, rate)


def segments(samples: np.ndarray, config: VadConfig | None = None, block: int = 320) -> list:
    seg = Segmenter("customer", config)
    events = []
    for i in range(0, len(samples), block):
        events += seg.feed(samples[i:i + block])
    return events + seg.flush()


def gap(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


# --- ring buffer ----------------------------------------------------------------------------


def test_ring_buffer_keeps_order_and_counts_what_it_drops():
    ring = RingBuffer(max_frames=1000)
    for i in range(5):
        ring.push(np.full((300, 1), i, np.float32), overflow=(i == 2))
    out = ring.drain()
    assert ring.stats.dropped_frames == 600 and ring.stats.overflows == 1 and ring.stats.frames == 1500
    assert list(np.unique(out[:, 0])) == [2.0, 3.0, 4.0]
    assert ring.drain().shape == (0, 1)


def test_ring_buffer_is_safe_across_threads():
    ring = RingBuffer(max_frames=10**7)
    blocks = 2000

    def producer():
        for i in range(blocks):
            ring.push(np.full((10, 1), i, np.float32))

    thread = threading.Thread(target=producer)
    thread.start()
    got = []
    while thread.is_alive() or ring.queued_frames:
        got.append(ring.drain())
    thread.join()
    values = np.concatenate(got)[:, 0]
    assert len(values) == blocks * 10 and np.all(np.diff(values) >= 0)


# --- resampling -----------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_in_blocks_equals_resampling_at_once(rate):
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    whole = StreamResampler(rate).process(tone)
    resampler, parts, rng, i = StreamResampler(rate), [], np.random.default_rng(1), 0
    while i < len(tone):
        n = int(rng.integers(1, 3000))
        parts.append(resampler.process(tone[i:i + n]))
        i += n
    chunked = np.concatenate(parts)
    assert abs(len(whole) - RATE) <= 2 and np.array_equal(whole, chunked)
    # the tone survives at the right frequency
    spectrum = np.abs(np.fft.rfft(whole[2000:]))
    peak_hz = np.argmax(spectrum) * RATE / len(whole[2000:])
    assert abs(peak_hz - 440) < 5


def test_stereo_is_mixed_down_and_nan_becomes_silence():
    block = np.stack([np.ones(4800), -np.ones(4800)], axis=1).astype(np.float32)
    block[10, 0] = np.nan
    out = StreamResampler(48_000).process(block)
    assert np.isfinite(out).all() and np.abs(out).max() < 1e-3


# --- VAD ------------------------------------------------------------------------------------


def test_two_sentences_with_a_pause_are_two_utterances():
    s = speech()
    events = segments(np.concatenate([gap(1), s, gap(1.2), s, gap(1)]))
    found = [e for e in events if isinstance(e, SpeechSegment)]
    assert [type(e) for e in events] == [SpeechStart, SpeechSegment, SpeechStart, SpeechSegment]
    assert all(seg.reason == "pause" for seg in found)
    first, second = found
    assert 0.6 < first.start_s < 1.15 and abs(first.seconds - len(s) / RATE) < 0.8
    assert second.start_s > first.end_s


def test_silence_and_steady_noise_are_not_speech():
    rng = np.random.default_rng(0)
    assert segments(gap(600), block=16000) == []  # ten minutes of silence
    assert segments(rng.normal(0, 0.02, 20 * RATE).astype(np.float32), block=16000) == []
    hum = 0.1 * np.sin(2 * np.pi * 50 * np.arange(10 * RATE) / RATE).astype(np.float32)
    assert segments(hum, block=16000) == []
    t = np.arange(10 * RATE) / RATE
    ringback = (0.2 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t))).astype(np.float32)
    assert segments(ringback, block=16000) == []


def test_speech_in_noise_clipped_and_dc_offset_speech_are_found():
    s = speech()
    rng = np.random.default_rng(0)
    noisy = np.concatenate([gap(3), s, gap(2)]) + rng.normal(0, 0.01, int(5 * RATE) + len(s)).astype(np.float32)
    for audio in (noisy, np.clip(np.concatenate([gap(1), 10 * s, gap(1)]), -1, 1),
                  np.concatenate([gap(1), s, gap(1)]) + 0.3):
        found = [e for e in segments(audio.astype(np.float32)) if isinstance(e, SpeechSegment)]
        assert len(found) == 1 and found[0].seconds > 1.5


def test_a_monologue_is_cut_into_pieces_no_longer_than_the_limit():
    s = speech()
    monologue = np.concatenate([s] * 12)  # ~36 s without a pause longer than the clip's own
    found = [e for e in segments(monologue, VadConfig(max_seconds=10)) if isinstance(e, SpeechSegment)]
    assert len(found) >= 4
    assert all(seg.seconds <= 10.05 for seg in found)
    assert sum(seg.seconds for seg in found) > 0.9 * len(monologue) / RATE  # nothing lost at the cuts


def test_a_click_is_not_an_utterance():
    click = np.zeros(RATE, np.float32)
    click[8000:8100] = 0.8
    assert [e for e in segments(np.concatenate([gap(1), click, gap(1)])) if isinstance(e, SpeechSegment)] == []


# --- replay ---------------------------------------------------------------------------------


def write_wav(path: Path, data: np.ndarray, rate: int) -> Path:
    from assist.capture.audio import write_wav as write

    write(path, data, rate)
    return path


def test_replay_of_a_stereo_file_feeds_agent_left_and_customer_right_at_speed(tmp_path):
    from assist.capture.audio import ReplaySources

    left = np.full(48000, 0.25, np.float32)
    right = np.full(48000, -0.5, np.float32)
    path = write_wav(tmp_path / "call.wav", np.stack([left, right], axis=1), 48000)
    replay = ReplaySources(str(path), speed=20.0)
    assert set(replay.sources) == {"agent", "customer"} and replay.seconds == pytest.approx(1.0)
    began = time.monotonic()
    replay.sources["customer"].start()
    while not replay.finished:
        time.sleep(0.01)
    elapsed = time.monotonic() - began
    agent, customer = replay.sources["agent"].read(), replay.sources["customer"].read()
    replay.stop()
    assert 0.03 < elapsed < 1.0  # 1 s of audio at 20x
    assert len(agent) == len(customer) == 48000
    assert np.allclose(agent, 0.25, atol=1e-3) and np.allclose(customer, -0.5, atol=1e-3)
    assert replay.sources["customer"].finished


def test_replay_of_a_mono_file_is_the_customer_and_bad_files_are_refused(tmp_path):
    from assist.capture.audio import ReplaySources

    path = write_wav(tmp_path / "mono.wav", np.zeros(1600, np.float32), 16000)
    assert set(ReplaySources(str(path)).sources) == {"customer"}
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"\x00\x01not a wav" * 10)
    with pytest.raises(AudioDeviceError, match="not a readable WAV"):
        ReplaySources(str(bogus))


# --- sounddevice backend, with a fake module --------------------------------------------------


class FakeStream:
    def __init__(self, owner, **kwargs):
        self.kwargs, self.owner, self.active = kwargs, owner, False
        owner.streams.append(self)

    def start(self):
        if self.owner.refuse:
            raise RuntimeError("Invalid sample rate")
        self.active = True

    def stop(self):
        self.active = False

    def close(self):
        pass

    def deliver(self, frames, overflow=False):
        self.kwargs["callback"](frames, len(frames), None, SimpleNamespace(input_overflow=overflow))

    def unplug(self):
        self.active = False
        self.kwargs["finished_callback"]()


class FakeSoundDevice:
    def __init__(self, rates=(16000,), refuse=False):
        self.rates, self.refuse, self.streams = rates, refuse, []
        self.default = SimpleNamespace(device=(1, 2))

    def check_input_settings(self, device=None, samplerate=None, **_):
        if samplerate not in self.rates:
            raise ValueError("Invalid sample rate")

    def query_devices(self, device=None, kind=None):
        devices = [{"name": "HDA Intel: Mic", "max_input_channels": 2, "default_samplerate": 44100.0},
                   {"name": "USB headset", "max_input_channels": 1, "default_samplerate": 48000.0},
                   {"name": "Speakers", "max_input_channels": 0, "default_samplerate": 48000.0},
                   {"name": "Stereo Mix (Realtek)", "max_input_channels": 2, "default_samplerate": 48000.0}]
        return devices if device is None else devices[1]

    def InputStream(self, **kwargs):  # noqa: N802 - sounddevice's name
        return FakeStream(self, **kwargs)


def test_sounddevice_source_copies_frames_and_counts_overflows():
    sd = FakeSoundDevice()
    source = SoundDeviceSource("agent", device="USB headset", sd_module=sd)
    assert source.sample_rate == 16000
    source.start()
    stream = sd.streams[0]
    stream.deliver(np.ones((320, 1), np.float32))
    stream.deliver(np.ones((320, 1), np.float32), overflow=True)
    assert source.read().shape == (640, 1)
    assert source.stats.overflows == 1 and source.error is None
    stream.unplug()
    assert "stopped delivering" in source.error
    source.stop()


def test_a_device_that_refuses_16k_is_opened_at_its_own_rate_and_a_dead_one_raises():
    sd = FakeSoundDevice(rates=(48000,))
    assert SoundDeviceSource("agent", device="USB headset", sd_module=sd).sample_rate == 48000
    refusing = SoundDeviceSource("agent", device="USB headset", sd_module=FakeSoundDevice(refuse=True))
    with pytest.raises(AudioDeviceError, match="Could not open"):
        refusing.start()


def test_pulse_sources_are_opened_through_the_pulse_device_with_pulse_source_set(monkeypatch):
    import os

    seen = {}
    sd = FakeSoundDevice()
    original = sd.InputStream

    def spy(**kwargs):
        seen["env"], seen["device"] = os.environ.get("PULSE_SOURCE"), kwargs["device"]
        return original(**kwargs)

    sd.InputStream = spy
    monkeypatch.delenv("PULSE_SOURCE", raising=False)
    source = open_source("customer", "pulse:alsa_output.pci.analog-stereo.monitor", sd_module=sd)
    source.start()
    source.stop()
    assert seen == {"env": "alsa_output.pci.analog-stereo.monitor", "device": "pulse"}
    assert "PULSE_SOURCE" not in os.environ  # set for that stream only


def test_device_listing_and_defaults():
    devices = portaudio_inputs(FakeSoundDevice())
    assert [d.label for d in devices] == ["HDA Intel: Mic", "USB headset", "Stereo Mix (Realtek)"]
    assert [d.loopback for d in devices] == [False, False, True]
    assert default_device("agent", devices).label == "USB headset"  # sounddevice's default input
    assert default_device("customer", devices).label == "Stereo Mix (Realtek)"
    assert default_device("customer", [AudioDevice("pulse:mic", "Mic", "pulse", False)]) is None
    with pytest.raises(AudioDeviceError, match="Unknown audio device"):
        open_source("agent", "bluetooth:phone")


# --- Windows loopback backend (soundcard), with a fake module --------------------------------


class FakeRecorder:
    def __init__(self, fail_after=None):
        self.calls, self.fail_after, self.closed = 0, fail_after, False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True

    def record(self, numframes):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("AUDCLNT_E_DEVICE_INVALIDATED")
        time.sleep(0.001)
        return np.full((numframes, 1), 0.1, np.float32)


class FakeSoundCard:
    def __init__(self, fail_after=None):
        self.recorder_obj = FakeRecorder(fail_after)
        self.asked = {}

    def default_speaker(self):
        return SimpleNamespace(name="Speakers (Realtek)")

    def all_speakers(self):
        return [SimpleNamespace(name="Speakers (Realtek)"), SimpleNamespace(name="Headset")]

    def get_microphone(self, id, include_loopback=False):  # noqa: A002 - soundcard's name
        self.asked = {"id": id, "include_loopback": include_loopback}
        return SimpleNamespace(recorder=lambda **kwargs: self.recorder_obj)


def test_windows_loopback_lists_outputs_and_records_through_the_ring_buffer():
    from assist.capture.devices import list_devices
    from assist.capture.loopback import LoopbackSource

    fake = FakeSoundCard()
    devices = [d for d in list_devices(sd_module=FakeSoundDevice(), loopback_backend=fake) if d.backend == "loopback"]
    assert [d.label for d in devices] == ["Output (loopback): Speakers (Realtek)", "Output (loopback): Headset"]
    assert default_device("customer", devices).key == "loopback:Speakers (Realtek)"
    source = open_source("customer", devices[0].key, loopback_backend=fake)
    assert isinstance(source, LoopbackSource)
    source.start()
    deadline = time.monotonic() + 2
    while source.buffer.queued_frames < 3200 and time.monotonic() < deadline:
        time.sleep(0.01)
    source.stop()
    assert fake.asked == {"id": "Speakers (Realtek)", "include_loopback": True}
    assert len(source.read()) >= 3200 and fake.recorder_obj.closed


def test_windows_loopback_device_lost_mid_call_is_reported_and_keeps_what_came_before():
    from assist.capture.loopback import LoopbackSource

    fake = FakeSoundCard(fail_after=5)
    source = LoopbackSource("customer", "Headset", backend=fake)
    source.start()
    deadline = time.monotonic() + 2
    while source.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    source.stop()
    assert "stopped" in source.error and len(source.read()) == 5 * 320


def test_closing_audio_during_the_final_pause_is_exactly_the_segment_that_comes_out():
    s = speech()
    seg = Segmenter("customer")
    audio = np.concatenate([gap(1), s, gap(1)])
    closing, found = None, None
    for i in range(0, len(audio), 480):
        for event in seg.feed(audio[i:i + 480]):
            if isinstance(event, SpeechSegment):
                found = event
        if seg.in_speech and seg.silent_ms >= 210:
            closing = seg.closing_audio()  # the last one before the close: the pipeline's speculative input
    assert found is not None and np.array_equal(closing, found.samples)


def test_a_device_that_appeared_after_start_up_is_found_by_a_rescan_but_never_while_a_stream_is_open():
    class LateDevice(FakeSoundDevice):
        def __init__(self):
            super().__init__()
            self.scans = 0

        def _terminate(self):
            pass

        def _initialize(self):
            self.scans += 1

        def query_devices(self, device=None, kind=None):
            if device == "pulse" and not self.scans:
                raise ValueError("No input device matching 'pulse'")
            return super().query_devices(device, kind)

        def check_input_settings(self, device=None, samplerate=None, **_):
            raise ValueError("Invalid sample rate")

    late = LateDevice()
    source = open_source("customer", "pulse:out.monitor", sd_module=late)
    assert late.scans == 1 and source.sample_rate == 48000
    source.start()  # one stream open now: a rescan would close it, so none happens
    from assist.capture.audio import rescan_portaudio

    assert rescan_portaudio(late) is False and late.scans == 1
    source.stop()
    assert rescan_portaudio(late) is True and late.scans == 2
