"""Playing a recorded call back for review: decoding and mixing the sides, position and seeking, a real PulseAudio
null sink hearing it, and the replay's transcript following the call."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assist.capture.errors import CaptureError
from assist.capture.playback import CallPlayback, read_recording
from support.pulse import NullSink, missing_tools

RATE = 48000


def tone(path: Path, hz: float, seconds: float) -> Path:
    import soundfile

    t = np.arange(int(RATE * seconds)) / RATE
    soundfile.write(str(path), (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), RATE, format="OGG",
                    subtype="OPUS")
    return path


@pytest.fixture
def recording(tmp_path) -> list[Path]:
    return [tone(tmp_path / "call-agent.ogg", 440, 1.0), tone(tmp_path / "call-customer.ogg", 660, 1.5)]


class FakeSounddevice:
    """A PortAudio stand-in whose output stream pulls the callback on a thread, 10 ms at a time."""

    class CallbackStop(Exception):
        pass

    def __init__(self) -> None:
        self.played: list[np.ndarray] = []

    def OutputStream(self, samplerate, channels, dtype, device, callback):  # noqa: N802 - sounddevice's name
        fake = self

        class Stream:
            active = False

            def start(self) -> None:
                self.active, self._stop = True, False
                self._thread = threading.Thread(target=self._run)
                self._thread.start()

            def _run(self) -> None:
                while not self._stop:
                    out = np.zeros((samplerate // 100, channels), dtype=np.float32)
                    try:
                        callback(out, len(out), None, None)
                    except fake.CallbackStop:
                        fake.played.append(out)
                        break
                    fake.played.append(out)
                    time.sleep(0.001)
                self.active = False

            def stop(self) -> None:
                self._stop = True
                self._thread.join()

            def close(self) -> None:
                pass

        return Stream()


def test_the_sides_are_mixed_agent_left_customer_right(recording):
    audio, rate = read_recording(recording)
    assert rate == RATE and audio.shape == (int(1.5 * RATE), 2)
    spectrum = [np.abs(np.fft.rfft(audio[: RATE // 2, c])) for c in (0, 1)]
    freqs = np.fft.rfftfreq(RATE // 2, 1 / RATE)
    assert abs(freqs[spectrum[0].argmax()] - 440) < 5 and abs(freqs[spectrum[1].argmax()] - 660) < 5
    assert np.abs(audio[int(1.2 * RATE):, 0]).max() == 0  # the agent's side ended at 1 s


def test_it_plays_to_the_end_from_where_it_was_asked(recording):
    sd = FakeSounddevice()
    player = CallPlayback(recording, sd_module=sd)
    player.play(start_s=1.0)
    deadline = time.monotonic() + 10
    while player.playing and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not player.playing and player.position_s == pytest.approx(1.5)
    heard = np.concatenate(sd.played)[: int(0.5 * RATE)]
    assert np.allclose(heard, player.audio[RATE:])  # exactly the recording's last half second
    player.seek(99)
    assert player.position_s == pytest.approx(1.5)
    player.stop()


def test_a_missing_or_broken_recording_is_said(tmp_path):
    with pytest.raises(CaptureError, match="no recording"):
        read_recording([])
    bad = tmp_path / "call-customer.ogg"
    bad.write_bytes(b"OggS" + bytes(100))
    with pytest.raises(CaptureError, match="cannot be read"):
        read_recording([bad])


@pytest.mark.slow
def test_a_real_null_sink_hears_the_call(recording):
    if missing_tools():
        pytest.skip(f"PulseAudio test tools missing: {missing_tools()}")
    from assist.capture.devices import open_source

    with NullSink() as sink:
        source = open_source("customer", f"pulse:{sink.monitor}")
        source.start()
        try:
            player = CallPlayback(recording, device=f"pulse:{sink.name}")
            player.play()
            heard = []
            deadline = time.monotonic() + 8
            while (player.playing or not heard) and time.monotonic() < deadline:
                time.sleep(0.05)
                heard.append(source.read())
            player.stop()
            time.sleep(0.3)
            heard.append(source.read())
        finally:
            source.stop()
    audio = np.concatenate([h.reshape(-1) for h in heard if h.size])
    assert audio.size > 0.5 * source.sample_rate and np.sqrt(np.mean(audio**2)) > 0.02  # the tones came through


def test_the_replay_transcript_follows_the_call(qtbot, recording, monkeypatch):
    from assist.gui.review.replay import ReplayView
    from assist.pipeline.review import Replay, ReplayTurn
    from assist.storage.review import SessionSummary

    summary = SessionSummary("s1", 0.0, 2.0, 2.0, "dana", "call", 2, 1, 0.1, "neutral", 0, 0, 0)
    turns = [ReplayTurn("e1", "agent", "utterance", "Hello, how can I help?", 0.0, {"start_s": 0.0}),
             ReplayTurn("e2", "customer", "utterance", "My parcel is late.", 1.0, {"start_s": 0.9},
                        insight={"emotion": "neutral", "emotion_confidence": 0.9, "emotion_probs": {"neutral": 0.9}})]
    replay = Replay(summary, recording[0].parent / "journal.sqlite3", turns)
    monkeypatch.setattr(Replay, "recording", property(lambda self: recording))
    view = ReplayView()
    qtbot.addWidget(view)
    view.show_replay(replay)
    assert view.audio_row.isVisibleTo(view)
    fake = FakeSounddevice()
    monkeypatch.setattr("assist.capture.playback.CallPlayback.__init__", _fake_init(fake))
    qtbot.mouseClick(view.play_button, __import__("PySide6.QtCore", fromlist=["Qt"]).Qt.MouseButton.LeftButton)
    assert view.play_button.text() == "⏸ Pause"
    qtbot.waitUntil(lambda: view.following == 1, timeout=5000)  # the customer's turn, heard from 0.9 s
    qtbot.waitUntil(lambda: view.play_button.text() == "▶ Play call", timeout=5000)  # stopped at the end
    assert view.play_label.text().endswith("/ 0:01")


def _fake_init(fake: FakeSounddevice):
    original = CallPlayback.__init__

    def init(self, paths, device=None, sd_module=None):
        original(self, paths, device, fake)

    return init
