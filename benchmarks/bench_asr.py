"""Benchmark of the speech recogniser (issue 4 target: final transcript of a 10 s utterance <= ~600 ms on 2 cores).

    python benchmarks/bench_asr.py [--runs 20] [--threads 2]

Measures, on this machine, with real read speech (Debian's pocketsphinx-testdata, librivox sentences
joined and cut to 2, 5 and 10 s):
- load time of Whisper tiny.en (CTranslate2) and PocketSphinx, in this process;
- final-transcript latency, p50 / p95 / max (wall clock) and process CPU time, for beam 1 (the default)
  and beam 5, with and without word timestamps (what ``align()`` costs);
- partial-hypothesis latency (greedy, no word times) and PocketSphinx for the same clips;
- real-time factor (p50 latency / audio seconds).
Prints JSON; nothing is written. The load average is recorded, since another job on 2 cores slows every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import machine, summary  # noqa: E402 (benchmarks/machine.py)

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
LENGTHS = (2, 5, 10)




def clips() -> dict[int, object]:
    """2, 5 and 10 s of continuous speech: the librivox sentences joined with 0.2 s pauses, then cut."""
    import numpy as np

    from assist.training.eval_asr import read_wav16

    pause = np.zeros(3200, np.float32)
    speech = np.concatenate([part for wav in sorted(LIBRIVOX.glob("*.wav")) for part in (read_wav16(wav), pause)])
    return {seconds: speech[: seconds * 16_000] for seconds in LENGTHS}


def timed(fn, samples, runs: int) -> dict[str, dict[str, float]]:
    """Wall clock and process CPU time (CTranslate2 computes in its own threads) of ``fn(samples)``."""
    fn(samples)
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn(samples)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return {"wall_ms": summary(wall, 1), "cpu_ms": summary(cpu, 1)}


def measure(runs: int, threads: int) -> dict:
    from assist.inference.asr import PocketSphinxEngine, WhisperEngine

    t = time.perf_counter()
    whisper = WhisperEngine(threads=threads)
    whisper_load = time.perf_counter() - t
    t = time.perf_counter()
    sphinx = PocketSphinxEngine()
    sphinx_load = time.perf_counter() - t
    results: dict = {"audio": "librivox sentences joined, cut to 2/5/10 s", "runs": runs, "threads": threads,
                     "provider": whisper.provider, "model": whisper.version, "default_beam_size": whisper.beam_size,
                     "load_s": {"whisper": round(whisper_load, 3), "pocketsphinx": round(sphinx_load, 3)}}
    configs = {"final_beam1_words": (1, True), "final_beam1": (1, False), "final_beam5_words": (5, True),
               "final_beam5": (5, False)}
    for seconds, samples in clips().items():
        row: dict = {}
        for name, (beam, words) in configs.items():
            whisper.beam_size, whisper.word_timestamps = beam, words
            row[name] = timed(whisper.transcribe, samples, runs)
        row["partial"] = timed(whisper.transcribe_partial, samples, runs)
        row["pocketsphinx"] = timed(sphinx.transcribe, samples, max(3, runs // 4))
        row["rtf"] = {name: round(row[name]["wall_ms"]["p50"] / 1000 / seconds, 3)
                      for name in ("final_beam1_words", "final_beam5_words", "partial", "pocketsphinx")}
        whisper.beam_size, whisper.word_timestamps = 1, True
        row["text"] = whisper.transcribe(samples).text
        results[f"{seconds}s"] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "load_average": round(load, 2),
              **measure(args.runs, args.threads)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
