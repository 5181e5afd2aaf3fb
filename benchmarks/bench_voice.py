"""Benchmark of the voice path (issue #3 target: voice features + voice model for 5 s of audio <= 30 ms).

    python benchmarks/bench_voice.py [--runs 200] [--record]

Measures, on this machine, for 5 s of real speech (Debian's pocketsphinx-testdata, else an EmoDB clip
repeated; 16 kHz and 48 kHz input):
- model load (config + ONNX session, and the PyTorch weights), in this process;
- features only, network only, and the whole ``VoiceModel.analyze`` (p50 / p95 / max, wall clock and
  this thread's CPU time: on a shared machine the wall clock also counts time the CPU spent on others);
- a 60 s clip (analysed up to the 30 s cap), to show the time stays bounded.
The load average is recorded too, since another job on the 2 cores slows every figure.
``--record`` appends the figures, with machine and date, to benchmarks/RESULTS.md.
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

SPHINX = Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")




def five_seconds_of_speech() -> tuple[object, int, str]:
    import numpy as np

    from assist.inference.voice.audio import read_wav

    if SPHINX.is_file():
        samples, rate = read_wav(SPHINX)
        return samples[: 5 * rate], rate, SPHINX.name + " (first 5 s)"
    from assist.training.data import default_data_dir

    clip = sorted((default_data_dir() / "emodb" / "wav").glob("*.wav"))[0]
    samples, rate = read_wav(clip)
    return np.tile(samples, 3)[: 5 * rate], rate, clip.name + " repeated to 5 s"


def timed(fn, runs: int) -> tuple[dict[str, float], dict[str, float]]:
    for _ in range(10):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return summary(wall), summary(cpu)


def measure(runs: int) -> dict:
    import numpy as np
    from scipy.signal import resample_poly

    from assist.inference.voice.features import extract_features
    from assist.inference.voice.model import VoiceModel

    samples, rate, source = five_seconds_of_speech()
    t = time.perf_counter()
    onnx_model = VoiceModel()
    onnx_load = time.perf_counter() - t
    t = time.perf_counter()
    torch_model = VoiceModel(backend="torch")
    torch_load = time.perf_counter() - t
    vector = extract_features(samples, rate).vector
    at_48k = resample_poly(samples.astype(np.float32) / 32768.0, 3, 1).astype(np.float32)
    long = np.tile(samples, 12)
    results = {
        "audio": source, "runs": runs, "provider": onnx_model.provider,
        "load_s": {"onnx": round(onnx_load, 3), "torch": round(torch_load, 3)},
    }
    for name, fn in {
        "features_16k": lambda: extract_features(samples, rate),
        "network_onnx": lambda: onnx_model.predict_vectors(vector),
        "network_torch": lambda: torch_model.predict_vectors(vector),
        "analyze_onnx_16k": lambda: onnx_model.analyze(samples, rate),
        "analyze_torch_16k": lambda: torch_model.analyze(samples, rate),
        "analyze_onnx_48k": lambda: onnx_model.analyze(at_48k, 48_000),
    }.items():
        wall, cpu = timed(fn, runs)
        results[name] = {"wall_ms": wall, "cpu_ms": cpu}
    wall, cpu = timed(lambda: onnx_model.analyze(long, rate), max(5, runs // 20))
    results["analyze_onnx_60s_clip"] = {"wall_ms": wall, "cpu_ms": cpu}
    return results




def record(result: dict) -> None:
    a, f = result["analyze_onnx_16k"], result["features_16k"]
    rows = [
        f"\n## Voice path — {result['date']} — {result['machine']}\n",
        f"Audio: {result['audio']}; {result['runs']} runs after 10 warm-up; provider {result['provider']}; "
        f"load average at start {result['load_average']} (when other jobs share the cores, wall clock exceeds CPU time).\n",
        "| measure | target | wall p50 / p95 / max | CPU p50 / p95 |", "|---|---|---|---|",
    ]
    for key, label, target in (
        ("analyze_onnx_16k", "features + voice model (ONNX), 5 s at 16 kHz", "<= 30 ms"),
        ("analyze_torch_16k", "features + voice model (PyTorch), 5 s at 16 kHz", ""),
        ("analyze_onnx_48k", "features + voice model (ONNX), 5 s at 48 kHz (resampled)", ""),
        ("features_16k", "features only, 5 s", ""),
        ("network_onnx", "network only (ONNX)", ""),
        ("network_torch", "network only (PyTorch)", ""),
        ("analyze_onnx_60s_clip", "60 s clip (analysed: last 30 s)", "bounded"),
    ):
        w, c = result[key]["wall_ms"], result[key]["cpu_ms"]
        rows.append(f"| {label} | {target} | {w['p50']} / {w['p95']} / {w['max']} ms | {c['p50']} / {c['p95']} ms |")
    rows.append(f"\nModel load: ONNX {result['load_s']['onnx']} s, PyTorch {result['load_s']['torch']} s. "
                f"5 s at 16 kHz, p95: {a['wall_ms']['p95']} ms (features {f['wall_ms']['p95']} ms). "
                "Command: `python benchmarks/bench_voice.py --record`.\n")
    with (REPO / "benchmarks" / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "load_average": round(load, 2),
              **measure(args.runs)}
    print(json.dumps(result, indent=2))
    if args.record:
        record(result)


if __name__ == "__main__":
    main()
