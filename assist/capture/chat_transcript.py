"""Transcript import: plain text with speaker prefixes, JSON lines, or a JSON array of records.

Plain text uses the names of ``SPEAKER_ROLES`` as prefixes, optionally after a bracketed time
(``Customer: ...``, ``[10:31] Rep: ...``); a line without a known prefix continues the previous
message (so "Note: ..." inside a message stays in it). Bad input never aborts the import: binary
files raise FeedError, everything else (malformed lines, oversize files, an empty file) is skipped
and reported in ``ImportResult.problems``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assist.capture.chat_message import MAX_TEXT_CHARS, FeedMessage, clean_text, message_from_record, role_from_speaker
from assist.capture.errors import FeedError
from assist.domain import Role

MAX_IMPORT_BYTES = 20 * 1024 * 1024  # a larger transcript is read up to the limit (and reported)
MAX_IMPORT_MESSAGES = 10_000
MAX_PROBLEMS = 50  # problems listed one by one; the rest are summarised in one line
BINARY_RATIO = 0.1  # share of control characters above which a file is not text
_PREFIX = re.compile(r"^\s*(?:\[[^\]]{1,40}\]\s*)?(?P<speaker>[A-Za-z][A-Za-z .'_-]{0,29}?)\s*:(?P<text>.*)$")


@dataclass(frozen=True)
class ImportResult:
    """Messages read from a transcript, and what was skipped or cut on the way (in words)."""

    messages: tuple[FeedMessage, ...]
    problems: tuple[str, ...] = ()
    format: str = "text"  # "text", "jsonl" or "json"
    encoding: str = "utf-8"
    truncated: bool = False  # the file or the message count went over the import limits
    skipped_lines: tuple[int, ...] = ()  # 1-based line (or record) numbers skipped, the first MAX_PROBLEMS
    skipped: int = 0  # how many lines or records were skipped in all


def parse_transcript(path_or_text: str | Path | bytes) -> ImportResult:
    """Read a transcript from a ``Path`` (or a one-line ``str`` naming an existing file), text, or raw bytes.

    Raises FeedError only for a missing or unreadable file, or one that is not text.
    """
    truncated = False
    if isinstance(path_or_text, str) and ("\n" in path_or_text or not os.path.isfile(path_or_text)):
        data, name = path_or_text.encode("utf-8", errors="replace"), "The transcript"
    elif isinstance(path_or_text, bytes | bytearray | memoryview):
        data, name = bytes(path_or_text), "The transcript"
    else:
        data, name = _read_capped(Path(path_or_text))
    if len(data) > MAX_IMPORT_BYTES:
        data, truncated = data[:MAX_IMPORT_BYTES], True
        data = data[: data.rfind(b"\n") + 1]  # drop the cut last line
    text, encoding = _decode(data, name)
    problems = _Problems()
    if truncated:
        problems.add(f"The transcript is larger than {MAX_IMPORT_BYTES // 2**20} MB: only the first part was read.")
    if encoding != "utf-8":
        problems.add(f"The transcript is not UTF-8; it was read as {encoding}.")
    if not text.strip():
        problems.add("The transcript is empty.")
        return problems.result([], "text", encoding, truncated)
    start = text.lstrip()
    if start.startswith("[") and (records := _json_array(start)) is not None:
        messages, fmt = _from_records(enumerate(records, 1), problems, "record"), "json"
    elif start.startswith("{"):
        numbered = ((n, _loads(line)) for n, line in enumerate(text.splitlines(), 1) if line.strip())
        messages, fmt = _from_records(numbered, problems, "line"), "jsonl"
    else:
        messages, fmt = _from_text(text, problems), "text"
    return problems.result(messages, fmt, encoding, truncated)


def _read_capped(path: Path) -> tuple[bytes, str]:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_IMPORT_BYTES + 1), path.name
    except FileNotFoundError as exc:
        raise FeedError(f"The transcript {path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise FeedError(f"{path} is a folder, not a transcript file.") from exc
    except OSError as exc:
        raise FeedError(f"The transcript {path.name} could not be read: {exc.strerror or exc}.") from exc


def _decode(data: bytes, name: str) -> tuple[str, str]:
    """UTF-16 with a byte-order mark (Notepad's "Unicode"), else UTF-8, else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, encoding = data.decode("utf-16", errors="replace"), "UTF-16"
    elif b"\x00" in data[:8192]:
        raise FeedError(f"{name} is not a text transcript (it contains binary data).")
    else:
        try:
            text, encoding = data.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = data.decode("cp1252", errors="replace"), "Windows-1252"
    sample = text[:20_000]
    odd = sum(not ch.isprintable() and ch not in "\n\r\t\f" for ch in sample)
    if sample and odd / len(sample) > BINARY_RATIO:
        raise FeedError(f"{name} is not a text transcript (it looks like binary data).")
    return text, encoding


class _Problems:
    """Collects problems; past MAX_PROBLEMS skipped lines only counts them. Also enforces the message cap."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.skipped_lines: list[int] = []
        self.skipped = 0
        self.capped = False

    def add(self, problem: str) -> None:
        self.lines.append(problem)

    def skip(self, number: int, problem: str) -> None:
        self.skipped += 1
        if len(self.skipped_lines) < MAX_PROBLEMS:
            self.skipped_lines.append(number)
            self.lines.append(problem)

    def full(self, count: int) -> bool:
        self.capped = self.capped or count >= MAX_IMPORT_MESSAGES
        return self.capped

    def result(self, messages: list[FeedMessage], fmt: str, encoding: str, truncated: bool) -> ImportResult:
        lines = list(self.lines)
        if self.skipped > len(self.skipped_lines):
            lines.append(f"... and {self.skipped - len(self.skipped_lines):,} more skipped.")
        if self.capped:
            lines.append(f"Only the first {MAX_IMPORT_MESSAGES:,} messages were imported.")
        return ImportResult(tuple(messages), tuple(lines), fmt, encoding, truncated or self.capped,
                            tuple(self.skipped_lines), self.skipped)


def _loads(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return FeedError(f"not valid JSON ({exc.msg})")
    except (ValueError, RecursionError) as exc:
        return FeedError(f"not valid JSON ({exc})")


def _json_array(text: str) -> list[Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, list) else None


def _from_records(records: Iterable[tuple[int, Any]], problems: _Problems, unit: str) -> list[FeedMessage]:
    messages: list[FeedMessage] = []
    for number, record in records:
        if problems.full(len(messages)):
            break
        try:
            if isinstance(record, FeedError):
                raise record
            messages.append(message_from_record(record, "import"))
        except FeedError as exc:
            problems.skip(number, f"{unit} {number}: {exc}; skipped")
    return messages


def _from_text(text: str, problems: _Problems) -> list[FeedMessage]:
    messages: list[FeedMessage] = []
    role: Role | None = None
    parts: list[str] = []

    def flush() -> None:
        body = clean_text("\n".join(parts))
        if role is None or not body or problems.full(len(messages)):
            return
        if len(body) > MAX_TEXT_CHARS:
            problems.add(f"Message {len(messages) + 1} was longer than {MAX_TEXT_CHARS:,} characters and was cut.")
        messages.append(FeedMessage(role, body[:MAX_TEXT_CHARS], "import"))

    for number, line in enumerate(text.splitlines(), 1):
        match = _PREFIX.match(line)
        speaker = role_from_speaker(match["speaker"]) if match else None
        if match and speaker is not None:
            flush()
            if problems.capped:
                break
            role, parts = speaker, [match["text"]]
        elif role is not None:
            parts.append(line)
        elif line.strip():
            problems.skip(number, f"line {number}: text before the first 'Customer:' or 'Agent:' line; skipped")
    flush()
    if not messages and not problems.capped:
        problems.add("No 'Customer:' or 'Agent:' lines were found.")
    return messages
