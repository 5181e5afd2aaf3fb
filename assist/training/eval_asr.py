"""Word error rate of a recogniser on Debian's pocketsphinx-testdata (real read English speech).

    python -m assist.training.eval_asr [--engine whisper|pocketsphinx] [--model PATH]

Two sets: librivox (5 sentences of an audiobook, 24.7 s) and cards (5 spoken playing cards, 9.6 s).
WER is word-level Levenshtein distance over reference words, after lower-casing, dropping punctuation
and spelling out small numbers ("10" -> "ten") and "Mr." -> "mister", so style is not counted as error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import wave
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assist.inference.asr.transcript import Transcript
from assist.inference.errors import InferenceError

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
SETS = {"librivox": "librivox/transcription", "cards": "cards/cards.transcription"}
_REFERENCE = re.compile(r"^<s>(.*)</s>\s*\((\S+)\)\s*$")
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}


class Recogniser(Protocol):
    name: str
    version: str
    provider: str

    def transcribe(self, samples: np.ndarray, sample_rate: int = 16_000) -> Transcript: ...


def _number_words(n: int) -> str:
    """0-999 in words ("42" -> "forty two"); larger numbers stay digits."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + _number_words(n % 100))
    return str(n)


def normalise(text: str) -> list[str]:
    """Lower-case words without punctuation, small numbers spelled out, common abbreviations expanded."""
    text = re.sub(r"[-_/]", " ", text.lower())
    text = re.sub(r"[^\w\s']", "", text).replace("'", "")
    words: list[str] = []
    for word in text.split():
        if word.isdigit():
            words.extend(_number_words(int(word)).split())
        else:
            words.append(_ABBREVIATIONS.get(word, word))
    return words


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + deletions + insertions turning ``reference`` into ``hypothesis``."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp_word in enumerate(hypothesis, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one hypothesis (can exceed 1 with many insertions)."""
    ref = normalise(reference)
    return edit_distance(ref, normalise(hypothesis)) / max(1, len(ref))


def read_wav16(path: Path) -> np.ndarray:
    """A 16-bit mono WAV as float32 in [-1, 1] (the test data's format)."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1 or wav.getframerate() != 16_000:
            raise InferenceError(f"{path} is not 16-bit mono 16 kHz audio.")
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def read_references(root: Path, name: str) -> list[tuple[Path, str]]:
    """(wav path, reference text) pairs of one test set."""
    listing = root / SETS[name]
    pairs = []
    for line in listing.read_text(encoding="utf-8").splitlines():
        match = _REFERENCE.match(line.strip())
        if match:
            pairs.append((listing.parent / f"{match.group(2)}.wav", match.group(1).strip()))
    return pairs


def evaluate_testdata(engine: Recogniser, root: Path = TESTDATA, sets: tuple[str, ...] = tuple(SETS)) -> dict[str, Any]:
    """Per-file and per-set WER and real-time factor (processing time / audio time), JSON-able."""
    if not root.is_dir():
        raise InferenceError(f"The test data folder {root} is missing (apt install pocketsphinx-testdata).")
    result: dict[str, Any] = {"engine": engine.name, "version": engine.version, "provider": engine.provider,
                              "fallback_reason": getattr(engine, "fallback_reason", ""),
                              "date": time.strftime("%Y-%m-%d"), "sets": {}}
    totals = {"errors": 0, "words": 0, "seconds": 0.0, "elapsed_s": 0.0}
    for name in sets:
        files, sums = [], {"errors": 0, "words": 0, "seconds": 0.0, "elapsed_s": 0.0}
        for path, reference in read_references(root, name):
            samples = read_wav16(path)
            began = time.perf_counter()
            transcript = engine.transcribe(samples)
            elapsed = time.perf_counter() - began
            ref = normalise(reference)
            errors = edit_distance(ref, normalise(transcript.text))
            seconds = len(samples) / 16_000
            files.append({"file": path.name, "reference": reference, "hypothesis": transcript.text,
                          "errors": errors, "words": len(ref), "wer": round(errors / max(1, len(ref)), 4),
                          "seconds": round(seconds, 2), "rtf": round(elapsed / seconds, 4)})
            for key, value in (("errors", errors), ("words", len(ref)), ("seconds", seconds), ("elapsed_s", elapsed)):
                sums[key] += value
                totals[key] += value
        result["sets"][name] = {"wer": round(sums["errors"] / max(1, sums["words"]), 4),
                                "rtf": round(sums["elapsed_s"] / max(1e-9, sums["seconds"]), 4),
                                "words": sums["words"], "seconds": round(sums["seconds"], 2), "files": files}
    result["overall"] = {"wer": round(totals["errors"] / max(1, totals["words"]), 4),
                         "rtf": round(totals["elapsed_s"] / max(1e-9, totals["seconds"]), 4),
                         "words": totals["words"], "seconds": round(totals["seconds"], 2)}
    return result


def main(argv: list[str] | None = None) -> int:
    """Print the evaluation as JSON; exit status 2 when no recogniser or no test data is available."""
    parser = argparse.ArgumentParser(prog="assist eval asr",
                                     description="Word error rate of the speech recogniser on pocketsphinx-testdata.")
    parser.add_argument("--engine", choices=("whisper", "pocketsphinx"), default="whisper")
    parser.add_argument("--model", type=Path, default=None, help="a CTranslate2 Whisper folder")
    parser.add_argument("--root", type=Path, default=TESTDATA, help="pocketsphinx-testdata folder")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    from assist.inference.asr import load_asr

    try:
        began = time.perf_counter()
        engine = load_asr(args.model, prefer=args.engine, threads=args.threads)
        load_s = time.perf_counter() - began
        result = evaluate_testdata(engine, args.root)
    except InferenceError as exc:
        print(f"assist eval asr: {exc}", file=sys.stderr)
        return 2
    result["load_s"] = round(load_s, 3)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
