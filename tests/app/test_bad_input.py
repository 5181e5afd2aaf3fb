"""Issue 18 (8, 9): a corpus of bad input through the CLI paths a user reaches first: each is refused with a clear
message and a non-zero exit, never a traceback (the corpus is written by the test: nothing binary in the repo)."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest

from support import run_assist


def _png(width: int, height: int) -> bytes:
    """A tiny PNG that claims ``width`` x ``height`` (all-zero rows compress to almost nothing: a pixel bomb)."""
    rows = zlib.compress(b"".join(b"\x00" + b"\x00" * width for _ in range(min(height, 64))), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


CASES = {
    "kb: JSON nested 100,000 deep": (("kb", "import", "{file}", "--kb", "{tmp}/kb.sqlite3"), "deep.json",
                                     lambda: ("[" * 100_000 + "]" * 100_000).encode(), "nested too deeply"),
    "kb: random bytes as JSON": (("kb", "import", "{file}", "--kb", "{tmp}/kb.sqlite3"), "noise.json",
                                 lambda: os.urandom(3000), "kb.sqlite3"),
    "demo: a script message without text": (("demo", "--offscreen", "--db", "{tmp}/j.sqlite3", "--script", "{file}"),
                                            "script.json", lambda: b'{"messages": [{"role": "customer"}]}',
                                            'needs a "role"'),
    "demo: random bytes as a script": (("demo", "--offscreen", "--db", "{tmp}/j.sqlite3", "--script", "{file}"),
                                       "bytes.json", lambda: os.urandom(3000), "not a JSON text file"),
    "demo: a script that is not there": (("demo", "--offscreen", "--db", "{tmp}/j.sqlite3", "--script",
                                          "{tmp}/missing.json"), "unused.json", lambda: b"", "does not exist"),
    "analyze: a 20000 x 20000 PNG bomb": (("analyze", "--text", "hi", "--image", "{file}"), "bomb.png",
                                          lambda: _png(20_000, 20_000), "too large"),
    "analyze: a truncated PNG": (("analyze", "--text", "hi", "--image", "{file}"), "cut.png",
                                 lambda: _png(64, 64)[:40], "cut.png"),
    "analyze: noise as a WAV": (("analyze", "--text", "hi", "--wav", "{file}"), "noise.wav",
                                lambda: os.urandom(2000), "noise.wav"),
    "eval voice: nothing it can score": (("eval", "voice", "--csv", "{file}"), "voices.csv",
                                         lambda: b"path,label\n/nowhere/a.wav,anger\n", "could be scored"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_in_words_without_a_traceback(case: str, tmp_path: Path) -> None:
    args, name, content, words = CASES[case]
    path = tmp_path / name
    path.write_bytes(content())
    result = run_assist(*(a.format(file=path, tmp=tmp_path) for a in args), timeout=120)
    said = result.stdout + result.stderr
    assert result.returncode != 0, said[-2000:]
    assert "Traceback" not in said, said[-3000:]
    assert words in said, said[-2000:]
