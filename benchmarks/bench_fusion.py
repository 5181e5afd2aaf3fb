"""Benchmark of the fused estimate for one turn (issue #3 target: p95 <= 40 ms on 2 CPU cores).

    python benchmarks/bench_fusion.py [--turns 200] [--record]

One turn = a customer message (MELD dev / Bitext test), 5 s of the customer's voice (a real speech clip
from pocketsphinx-testdata, 16 kHz) and a screenshot already OCR'd (OCR runs when the agent takes the
screenshot, not per turn), plus the previous turn as context. Measured after 10 warm-up turns through
``MultimodalAnalyzer.analyze_turn``: text model, voice features + voice model, the screenshot's OCR text
through the text model, the fusion graph with its per-modality explanation runs. ``--record`` appends
the figures with machine and date to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_text import percentile, sample_messages  # noqa: E402
from machine import machine  # noqa: E402

SPEECH = Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    from assist.inference.screen.synthetic import render_order_page
    from assist.inference.voice.audio import load_audio
    from assist.pipeline.multimodal import MultimodalAnalyzer

    began = time.perf_counter()
    analyzer = MultimodalAnalyzer()
    load_s = time.perf_counter() - began
    audio = load_audio(SPEECH, 5.0)
    samples = (audio.samples[: 5 * 16000], 16000)
    screen = analyzer.screen_reader.read(render_order_page())  # BGR, as OpenCV draws it
    messages = sample_messages(args.turns + 11)
    totals, parts = [], {}
    for i in range(args.turns + 10):
        start = time.perf_counter()
        result = analyzer.analyze_turn(messages[i + 1], samples, screen, context=[(messages[i], False)])
        elapsed = (time.perf_counter() - start) * 1000
        if i >= 10:
            totals.append(elapsed)
            for k, v in result.timings_ms.items():
                parts.setdefault(k, []).append(v)
    out = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "turns": len(totals),
           "load_s": round(load_s, 2), "providers": result.providers, "modalities": list(result.fused.modalities),
           "turn_ms": {"p50": round(statistics.median(totals), 1), "p95": round(percentile(totals, 0.95), 1),
                       "max": round(max(totals), 1)},
           "parts_p50_ms": {k: round(statistics.median(v), 2) for k, v in parts.items()}}
    print(json.dumps(out, indent=2))
    if args.record:
        lines = [f"\n## Fused turn — {out['date']} — {out['machine']}\n",
                 "| measure | target | result |", "|---|---|---|",
                 f"| text + context + 5 s voice + OCR'd screenshot -> fused estimate, p95 ({out['turns']} turns) | "
                 f"<= 40 ms | {out['turn_ms']['p95']} ms (p50 {out['turn_ms']['p50']} ms, max {out['turn_ms']['max']} ms) |",
                 f"\nParts (p50, ms): {', '.join(f'{k} {v}' for k, v in out['parts_p50_ms'].items())}. "
                 f"Providers: {', '.join(f'{k} {v}' for k, v in out['providers'].items())}. Models loaded in "
                 f"{out['load_s']} s. Command: `python benchmarks/bench_fusion.py --record`.\n"]
        with (REPO / "benchmarks" / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines))


if __name__ == "__main__":
    main()
