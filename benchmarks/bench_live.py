"""Benchmark of live calls through real devices (issue #4 targets).

    python benchmarks/bench_live.py latency [--record]          # ~3 min
    python benchmarks/bench_live.py soak --minutes 30 [--record]  # 30 min of two-channel audio

Both play audio with ``paplay`` into PulseAudio null sinks and capture the sinks' ``.monitor`` sources
through the app's own capture code (PortAudio callbacks -> ring buffers), then run the real LiveCall
(VAD, Whisper tiny.en int8, voice + text + fusion, knowledge-base suggestions) polled every 40 ms as
the app's worker does.

latency: 20 customer utterances of 1-10 s (Debian's pocketsphinx-testdata recordings and espeak-ng
sentences). Per utterance: processing after the VAD closed it (transcript + analysis + suggestions),
the same counted from the last speech sample (adds the 600 ms pause that ends an utterance), and the
first partial transcript counted from speech onset (audio time elapsed since the utterance's start,
including the 300 ms pre-roll, plus the partial's own time: an upper bound).
soak: a long call (the bundled demo call looped) in real time on both channels: driver overflows,
frames dropped, resident memory growth and CPU use.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import machine, summary  # noqa: E402

from support.pulse import NullSink, say  # noqa: E402 (the same PulseAudio helper the tests use)

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
SENTENCES = [
    "Hi.", "Where is my order?", "I want a refund for the damaged jacket.",
    "This is the third time I have called about the same package and nobody has helped me at all.",
    "Can you please tell me when my package will be delivered, because I need it for a trip this weekend "
    "and the tracking page has not changed since Monday.",
    "My card was charged twice for one order.", "Thank you so much, that is really great!",
    "I have been waiting on hold for forty minutes, this is ridiculous, I want to speak to a manager right now "
    "or I am cancelling my account.",
]


def stats(values: list[float]) -> dict[str, float]:
    return summary(values, 3, count=True)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    from assist.capture.audio import write_wav as write

    write(path, samples)
    return path


def load16(path: Path) -> np.ndarray:
    from assist.capture.audio import read_wav
    from assist.capture.resample import to_16k_mono

    return to_16k_mono(*read_wav(str(path)))


def customer_track(folder: Path) -> tuple[Path, list[float]]:
    clips = [load16(p) for p in sorted((TESTDATA / "librivox").glob("*.wav"))]
    clips += [load16(p) for p in sorted((TESTDATA / "cards").glob("*.wav"))]
    clips += [load16(say(text, folder / f"say{i}.wav")) for i, text in enumerate(SENTENCES)]
    clips = [c[:10 * 16000] for c in clips][:20]
    gap = np.zeros(int(1.5 * 16000), np.float32)
    track = np.concatenate([gap] + [x for c in clips for x in (c, gap)])
    return write_wav(folder / "customer.wav", track), [len(c) / 16000 for c in clips]


def make_call(engines, sources, asr):
    from assist.pipeline.controller import SessionController
    from assist.pipeline.live import LiveCall

    class TimedCall(LiveCall):
        """Records when the VAD closed each utterance and when its first partial came."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.closed, self.first_partials, self._seen_start = [], [], None

        def _finish_utterance(self, segment):
            channel = self.channels[segment.channel]
            speech_end = segment.end_s - 0.15  # the segment keeps a 150 ms tail after the last voiced frame
            self.closed.append({"wait_s": channel.timeline_s - speech_end, "audio_s": segment.seconds,
                                "channel": segment.channel})
            super()._finish_utterance(segment)

        def _maybe_partial(self, name, channel):
            start = channel.segmenter.current_start_s
            before = time.perf_counter()
            had = channel.last_partial_at
            super()._maybe_partial(name, channel)
            if channel.last_partial_at != had and self._seen_start != start:
                self._seen_start = start
                self.first_partials.append(channel.timeline_s - start + time.perf_counter() - before)

    controller = SessionController(engines)
    controller.start_session(source="call")
    return TimedCall(controller, sources, asr)


def poll_while(call, process, extra_s: float) -> None:
    while process.poll() is None:
        if not call.poll():
            time.sleep(0.04)
    until = time.monotonic() + extra_s
    while time.monotonic() < until:
        if not call.poll():
            time.sleep(0.04)


def bench_latency(engines) -> dict:
    from assist.capture.devices import open_source

    with tempfile.TemporaryDirectory() as tmp, NullSink() as sink:
        track, lengths = customer_track(Path(tmp))
        call = make_call(engines, {"customer": open_source("customer", f"pulse:{sink.monitor}")}, engines.asr)
        call.start()
        poll_while(call, sink.play(track), 2.0)
        call.stop()
    processing = [t["total_ms"] / 1000 for t in call.timings]
    from_speech_end = [c["wait_s"] + p for c, p in zip(call.closed, processing)]
    return {
        "utterances_played": len(lengths), "utterances_found": len(call.timings),
        "audio_s": stats([t["audio_s"] for t in call.timings]),
        "after_vad_close_s": stats(processing), "asr_s": stats([t["asr_ms"] / 1000 for t in call.timings]),
        "from_last_speech_sample_s": stats(from_speech_end),
        "first_partial_from_onset_s": stats(call.first_partials),
        "speculative_transcript_used": sum(bool(t.get("speculative")) for t in call.timings),
        "capture": call.stats(),
        "transcripts": [t.message.text for t in call.turns],
    }


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_soak(engines, minutes: float) -> dict:
    from assist.capture.audio import read_wav
    from assist.capture.devices import open_source

    data, rate = read_wav(str(REPO / "resources" / "demo" / "call.wav"))
    repeats = int(np.ceil(minutes * 60 * rate / len(data)))
    with tempfile.TemporaryDirectory() as tmp, NullSink() as agent_sink, NullSink() as customer_sink:
        left = write_wav(Path(tmp) / "agent.wav", np.tile(data[:, 0], repeats)[: int(minutes * 60 * rate)])
        right = write_wav(Path(tmp) / "customer.wav", np.tile(data[:, 1], repeats)[: int(minutes * 60 * rate)])
        sources = {"agent": open_source("agent", f"pulse:{agent_sink.monitor}"),
                   "customer": open_source("customer", f"pulse:{customer_sink.monitor}")}
        call = make_call(engines, sources, engines.asr)
        call.start()
        began, cpu0 = time.monotonic(), time.process_time()
        players = [agent_sink.play(left), customer_sink.play(right)]
        memory, next_sample, warm_rss = [], began + 60, None
        while any(p.poll() is None for p in players):
            if not call.poll():
                time.sleep(0.04)
            if time.monotonic() >= next_sample:
                next_sample += 60
                memory.append(round(rss_mb(), 1))
                warm_rss = warm_rss or memory[-1]
        for _ in range(50):
            call.poll()
            time.sleep(0.04)
        wall, cpu = time.monotonic() - began, time.process_time() - cpu0
        call.stop()
    return {"minutes": round(wall / 60, 2), "utterances": len(call.timings), "capture": call.stats(),
            "rss_mb_per_minute": memory, "rss_growth_mb_after_first_minute": round(max(memory) - warm_rss, 1),
            "cpu_percent_of_one_core": round(100 * cpu / wall, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["latency", "soak"])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    from assist.pipeline.engines import EngineConfig, load_engines

    engines = load_engines(EngineConfig(voice=True))
    result = bench_latency(engines) if args.what == "latency" else bench_soak(engines, args.minutes)
    result.update({"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"),
                   "load_average": os.getloadavg(), "asr": getattr(engines.asr, "provider", "?")})
    print(json.dumps(result, indent=2))
    if args.record:
        with open(REPO / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(f"\n### bench_live {args.what} — {result['date']}\n\n{result['machine']}\n\n```json\n"
                      f"{json.dumps({k: v for k, v in result.items() if k != 'transcripts'}, indent=1)}\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
